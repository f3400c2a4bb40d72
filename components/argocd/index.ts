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

export const ARGOCD_MANAGER = "argocd-manager";
const MANAGER_NAMESPACE = "kube-system";

export interface ArgoCdManagerAccessArgs {
  clusterName: string;
  /** Provider of the management cluster the account lives in. */
  provider: k8s.Provider;
}

/**
 * The identity Argo CD uses in a management cluster, created through that
 * cluster's own provider: a ServiceAccount, a long-lived token Secret for it,
 * and cluster-admin (Argo CD installs CRDs and cluster RBAC of add-ons). The
 * token is read back from the Secret and stays a Pulumi secret throughout.
 */
export class ArgoCdManagerAccess extends pulumi.ComponentResource {
  /** The decoded bearer token, a Pulumi secret. */
  readonly token: pulumi.Output<string>;

  constructor(name: string, args: ArgoCdManagerAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:gitops:ArgoCdManagerAccess", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const labels = { "app.kubernetes.io/managed-by": "ske-platform", "app.kubernetes.io/part-of": "argocd" };

    const account = new k8s.core.v1.ServiceAccount(
      `${args.clusterName}-argocd-manager`,
      {
        metadata: { name: ARGOCD_MANAGER, namespace: MANAGER_NAMESPACE, labels },
      },
      child,
    );

    new k8s.rbac.v1.ClusterRoleBinding(
      `${args.clusterName}-argocd-manager`,
      {
        metadata: { name: ARGOCD_MANAGER, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
        subjects: [{ kind: "ServiceAccount", name: ARGOCD_MANAGER, namespace: MANAGER_NAMESPACE }],
      },
      child,
    );

    // The token controller fills `data.token`; the provider waits for it. The
    // account must exist first, or the controller deletes the Secret.
    const tokenSecret = new k8s.core.v1.Secret(
      `${args.clusterName}-argocd-manager-token`,
      {
        metadata: {
          name: `${ARGOCD_MANAGER}-token`,
          namespace: MANAGER_NAMESPACE,
          labels,
          annotations: { "kubernetes.io/service-account.name": ARGOCD_MANAGER },
        },
        type: "kubernetes.io/service-account-token",
      },
      { ...child, dependsOn: [account] },
    );

    this.token = pulumi.secret(
      tokenSecret.data.apply((data) => {
        const encoded = data?.["token"];
        if (!encoded) throw new Error(`${args.clusterName}: the argocd-manager token Secret has no data.token`);
        return Buffer.from(encoded, "base64").toString("utf8");
      }),
    );
    this.registerOutputs({ token: this.token });
  }
}

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

    const secretMeta = (secretName: string, labels: Record<string, string>, annotations?: Record<string, string>) => ({
      name: secretName,
      namespace: ns,
      labels,
      ...(annotations ? { annotations } : {}),
    });

    // Argo CD reads these Secrets by label; they may exist before the chart, so no dependency.
    new k8s.core.v1.Secret(
      `${name}-gitops-repository`,
      {
        metadata: secretMeta("gitops-repository", {
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
      { ...child, dependsOn: [namespace] },
    );

    this.clusterSecrets = args.clusters.map(({ cluster, server, credentials }) => {
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
            `cluster-${cluster.name}`,
            clusterSecretLabels(cluster),
            clusterSecretAnnotations(cluster, args.gitops),
          ),
          type: "Opaque",
          stringData: { name: cluster.name, server, config },
        },
        { ...child, dependsOn: [namespace] },
      );
    });

    const servers = pulumi.all(args.clusters.map((c) => c.server));
    // CRDs come with the chart: the custom resources wait for the release.
    const afterChart = { ...child, dependsOn: [this.release] };

    this.project = new k8s.apiextensions.CustomResource(
      `${name}-project`,
      {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "AppProject",
        metadata: { name: args.environment, namespace: ns },
        spec: servers.apply((list) => appProjectSpec(args.environment, args.gitops.repoUrl, list, ns)),
      },
      afterChart,
    );

    this.rootProject = new k8s.apiextensions.CustomResource(
      `${name}-root-project`,
      {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "AppProject",
        metadata: { name: rootProjectName(args.environment), namespace: ns },
        spec: rootProjectSpec(args.environment, args.gitops.repoUrl, ns),
      },
      afterChart,
    );

    // argocd-server creates `default` at start-up, so it is taken over by a
    // forced server-side apply rather than created.
    this.defaultProject = new k8s.apiextensions.CustomResourcePatch(
      `${name}-default-project`,
      {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "AppProject",
        metadata: { name: "default", namespace: ns, annotations: { "pulumi.com/patchForce": "true" } },
        spec: lockedDefaultProjectSpec(),
      },
      afterChart,
    );

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
