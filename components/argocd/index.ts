import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  RESOURCES_FINALIZER,
  appProjectSpec,
  clusterConnectionConfig,
  lockedDefaultProjectSpec,
  rootProjectName,
  rootProjectSpec,
  clusterSecretAnnotations,
  clusterSecretLabels,
  rootApplicationSpec,
  type RegisteredCluster,
} from "./registration";
import { argoCdValues, type ArgoCdSsoSettings } from "./values";
import { withResources } from "../../plan/workload-resources";

export * from "./registration";
export * from "./values";
export * from "./manager-access";

export interface ClusterRegistration {
  cluster: RegisteredCluster;
  /** API server URL; `IN_CLUSTER_SERVER` for the ops cluster itself. */
  server: pulumi.Input<string>;
  /** Absent for the ops cluster (Argo CD's own service account). */
  credentials?: { bearerToken: pulumi.Input<string>; caCertificate: pulumi.Input<string> };
}

export interface ArgoCdArgs {
  environment: string;
  chart: { repository: string; version: string };
  namespace: string;
  /** UI address as operators reach it through the jump host (OIDC redirect base). */
  url: string;
  sso: ArgoCdSsoSettings;
  gitops: { repoUrl: string; revision: string };
  /** OpenSSH/PEM private half of the read-only deploy key; must be a secret. */
  deployKeyPrivatePem: pulumi.Input<string>;
  /** The ops cluster (in-cluster) and every management cluster of this environment. */
  clusters: ClusterRegistration[];
  /** Provider of the ops cluster, where Argo CD runs. */
  provider: k8s.Provider;
}

/**
 * Argo CD in the ops cluster: the chart, repository access, one cluster
 * Secret per cluster, the environment's AppProject and the root app.
 */
export class ArgoCd extends pulumi.ComponentResource {
  readonly release: k8s.helm.v3.Release;
  readonly clusterSecrets: k8s.core.v1.Secret[];
  readonly project: k8s.apiextensions.CustomResource;
  readonly rootProject: k8s.apiextensions.CustomResource;
  readonly defaultProject: k8s.apiextensions.CustomResourcePatch;
  readonly rootApplication: k8s.apiextensions.CustomResource;

  constructor(name: string, args: ArgoCdArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:gitops:ArgoCd", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const ns = args.namespace;

    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: { name: ns, labels: { "app.kubernetes.io/managed-by": "ske-platform" } },
      },
      child,
    );

    this.release = new k8s.helm.v3.Release(
      `${name}-argocd`,
      {
        name: "argocd",
        chart: "argo-cd",
        version: args.chart.version,
        repositoryOpts: { repo: args.chart.repository },
        namespace: ns,
        values: withResources("argo-cd", argoCdValues({ url: args.url, sso: args.sso })),
        atomic: true,
      },
      { ...child, dependsOn: [namespace] },
    );

    const afterNamespace = { ...child, dependsOn: [namespace] };
    buildRepositorySecret(name, args, afterNamespace);
    this.clusterSecrets = buildClusterSecrets(name, args, afterNamespace);

    // CRDs come with the chart: the custom resources wait for the release.
    const afterChart = { ...child, dependsOn: [this.release] };
    this.project = buildEnvironmentProject(name, args, afterChart);
    this.rootProject = buildRootProject(name, args, afterChart);
    this.defaultProject = buildDefaultProject(name, args, afterChart);

    this.rootApplication = new k8s.apiextensions.CustomResource(
      `${name}-root-app`,
      {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Application",
        metadata: { name: `${args.environment}-root`, namespace: ns, finalizers: [RESOURCES_FINALIZER] },
        spec: rootApplicationSpec({
          project: rootProjectName(args.environment),
          repoUrl: args.gitops.repoUrl,
          revision: args.gitops.revision,
          environment: args.environment,
          namespace: ns,
        }),
      },
      { ...child, dependsOn: [this.release, this.project, this.rootProject, this.defaultProject] },
    );

    this.registerOutputs({});
  }
}

const secretMeta = (
  namespace: string,
  secretName: string,
  labels: Record<string, string>,
  annotations?: Record<string, string>,
) => ({
  name: secretName,
  namespace,
  labels,
  ...(annotations ? { annotations } : {}),
});

/** Argo CD's read-only access to the GitOps repository, by deploy key. */
function buildRepositorySecret(name: string, args: ArgoCdArgs, opts: pulumi.CustomResourceOptions): k8s.core.v1.Secret {
  // Argo CD reads these Secrets by label; they may exist before the chart, so no dependency.
  return new k8s.core.v1.Secret(
    `${name}-gitops-repository`,
    {
      metadata: secretMeta(args.namespace, "gitops-repository", {
        "argocd.argoproj.io/secret-type": "repository",
        "app.kubernetes.io/managed-by": "ske-platform",
      }),
      type: "Opaque",
      stringData: {
        type: "git",
        url: args.gitops.repoUrl,
        sshPrivateKey: pulumi.secret(args.deployKeyPrivatePem),
      },
    },
    opts,
  );
}

/** One cluster Secret per registered cluster; a management cluster's bearer token stays a secret. */
function buildClusterSecrets(name: string, args: ArgoCdArgs, opts: pulumi.CustomResourceOptions): k8s.core.v1.Secret[] {
  return args.clusters.map(({ cluster, server, credentials }) => {
    const config = credentials
      ? pulumi.secret(
          pulumi
            .all([credentials.bearerToken, credentials.caCertificate])
            .apply(([bearerToken, caCertificate]) => clusterConnectionConfig({ bearerToken, caCertificate })),
        )
      : clusterConnectionConfig("in-cluster");
    return new k8s.core.v1.Secret(
      `${name}-cluster-${cluster.name}`,
      {
        metadata: secretMeta(
          args.namespace,
          `cluster-${cluster.name}`,
          clusterSecretLabels(cluster),
          clusterSecretAnnotations(cluster, args.gitops),
        ),
        type: "Opaque",
        stringData: { name: cluster.name, server, config },
      },
      opts,
    );
  });
}

/** The environment's AppProject, limited to its repository and its clusters' servers. */
function buildEnvironmentProject(
  name: string,
  args: ArgoCdArgs,
  opts: pulumi.CustomResourceOptions,
): k8s.apiextensions.CustomResource {
  const servers = pulumi.all(args.clusters.map((c) => c.server));
  return new k8s.apiextensions.CustomResource(
    `${name}-project`,
    {
      apiVersion: "argoproj.io/v1alpha1",
      kind: "AppProject",
      metadata: { name: args.environment, namespace: args.namespace },
      spec: servers.apply((list) => appProjectSpec(args.environment, args.gitops.repoUrl, list, args.namespace)),
    },
    opts,
  );
}

/** The root app's own AppProject. */
function buildRootProject(
  name: string,
  args: ArgoCdArgs,
  opts: pulumi.CustomResourceOptions,
): k8s.apiextensions.CustomResource {
  return new k8s.apiextensions.CustomResource(
    `${name}-root-project`,
    {
      apiVersion: "argoproj.io/v1alpha1",
      kind: "AppProject",
      metadata: { name: rootProjectName(args.environment), namespace: args.namespace },
      spec: rootProjectSpec(args.environment, args.gitops.repoUrl, args.namespace),
    },
    opts,
  );
}

/** Argo CD's built-in `default` project, locked down. */
function buildDefaultProject(
  name: string,
  args: ArgoCdArgs,
  opts: pulumi.CustomResourceOptions,
): k8s.apiextensions.CustomResourcePatch {
  // argocd-server creates `default` at start-up, so it is taken over by a
  // forced server-side apply rather than created.
  return new k8s.apiextensions.CustomResourcePatch(
    `${name}-default-project`,
    {
      apiVersion: "argoproj.io/v1alpha1",
      kind: "AppProject",
      metadata: { name: "default", namespace: args.namespace, annotations: { "pulumi.com/patchForce": "true" } },
      spec: lockedDefaultProjectSpec(),
    },
    opts,
  );
}
