import * as k8s from "@pulumi/kubernetes";
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import {
  CAPI_ACCESS_RULES,
  CAPI_CREDENTIAL_ROLES,
  CAPI_NAMESPACES,
  CLUSTER_API_APPS,
  capiCloudsYaml,
  capiCredentialName,
  capiIdentityMetadata,
  clusterApiAppProjectSpec,
  clusterApiApplicationSet,
  clusterApiProjectName,
} from "../../plan/cluster-api";

export interface ClusterApiApplicationsArgs {
  environment: string;
  argocdNamespace: string;
  /** API server URLs of the environment's management clusters (the AppProject's only destinations). */
  managementServers: pulumi.Input<string>[];
  /** Provider of the ops cluster, where Argo CD runs. */
  provider: k8s.Provider;
}

/**
 * What makes Argo CD install cert-manager and the Cluster API providers on
 * every management cluster: their AppProject and one ApplicationSet each,
 * selecting management clusters by the labels of their cluster Secrets.
 */
export class ClusterApiApplications extends pulumi.ComponentResource {
  readonly project: k8s.apiextensions.CustomResource;
  readonly applicationSets: k8s.apiextensions.CustomResource[];

  constructor(name: string, args: ClusterApiApplicationsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:capi:ClusterApiApplications", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    this.project = new k8s.apiextensions.CustomResource(
      `${name}-project`,
      {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "AppProject",
        metadata: { name: clusterApiProjectName(args.environment), namespace: args.argocdNamespace },
        spec: pulumi
          .all(args.managementServers)
          .apply((servers) => clusterApiAppProjectSpec(args.environment, servers)),
      },
      child,
    );
    this.applicationSets = CLUSTER_API_APPS.map((app) => {
      const set = clusterApiApplicationSet({
        environment: args.environment,
        argocdNamespace: args.argocdNamespace,
        app,
      });
      return new k8s.apiextensions.CustomResource(`${name}-${app}`, set, { ...child, dependsOn: [this.project] });
    });
    this.registerOutputs({});
  }
}

export interface ClusterApiIdentityArgs {
  environment: string;
  site: string;
  clusterName: string;
  region: string;
  /** The project the site's provider is scoped to (checked against Keystone before anything is registered). */
  projectId: string;
  authUrl: string;
  credentialGeneration: number;
  credentialExpiresAt?: string | undefined;
  /** The site's provider: Keystone makes the credential in the project that provider is scoped to. */
  openstackProvider: openstack.Provider;
  /** Provider of the management cluster that receives the Secret. */
  provider: k8s.Provider;
}

/**
 * The OpenStack identity Cluster API creates workload machines with: an
 * application credential with the least roles and access rules, and the
 * `clouds.yaml` Secret CAPO reads. The credential's secret stays a Pulumi
 * secret from Keystone's answer to the Secret's data.
 */
export class ClusterApiIdentity extends pulumi.ComponentResource {
  readonly credential: openstack.identity.ApplicationCredential;
  readonly secret: k8s.core.v1.Secret;
  readonly credentialName: string;

  constructor(name: string, args: ClusterApiIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:capi:ClusterApiIdentity", name, {}, opts);
    this.credentialName = capiCredentialName(args.clusterName, args.credentialGeneration);
    // A new generation is a new name, which replaces the credential: the new
    // one is created and written into the Secret before the old one is deleted.
    this.credential = new openstack.identity.ApplicationCredential(
      `${name}-credential`,
      {
        name: this.credentialName,
        region: args.region,
        description: `Cluster API of ${args.clusterName} (${args.environment}/${args.site}), project ${args.projectId}`,
        roles: [...CAPI_CREDENTIAL_ROLES],
        accessRules: CAPI_ACCESS_RULES.map((rule) => ({ ...rule })),
        unrestricted: false,
        ...(args.credentialExpiresAt ? { expiresAt: args.credentialExpiresAt } : {}),
      },
      { parent: this, provider: args.openstackProvider },
    );

    const child = { parent: this, provider: args.provider };
    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: { name: CAPI_NAMESPACES.workloads, labels: { "app.kubernetes.io/managed-by": "ske-platform" } },
      },
      child,
    );

    const cloudsYaml = pulumi.secret(
      pulumi
        .all([this.credential.id, this.credential.secret])
        .apply(([credentialId, credentialSecret]) =>
          capiCloudsYaml({ authUrl: args.authUrl, region: args.region, credentialId, credentialSecret }),
        ),
    );
    this.secret = new k8s.core.v1.Secret(
      `${name}-secret`,
      {
        metadata: capiIdentityMetadata({
          environment: args.environment,
          site: args.site,
          projectId: args.projectId,
          credentialName: this.credentialName,
        }),
        type: "Opaque",
        stringData: { "clouds.yaml": cloudsYaml },
      },
      { ...child, dependsOn: [namespace] },
    );
    this.registerOutputs({});
  }
}
