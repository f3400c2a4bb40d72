/**
 * GitOps-bridge data: how a cluster appears to Argo CD (labels ApplicationSets
 * select on, the connection config), and the project/root-app specs. Pure.
 */
import type { ClusterRole } from "../../plan/cluster-names";

export interface RegisteredCluster {
  /** Globally unique cluster name, e.g. `production-osl2-mgmt`. */
  name: string;
  environment: string;
  site: string;
  role: ClusterRole;
}

import { CLUSTER_SECRET_TYPE_LABEL, IN_CLUSTER_SERVER } from "../../plan/argocd";

export { CLUSTER_SECRET_TYPE_LABEL, IN_CLUSTER_SERVER };

/**
 * Labels of a cluster Secret. ApplicationSet cluster generators select on
 * these, so a new site's cluster is targeted by the moment its Secret exists.
 */
export function clusterSecretLabels(cluster: RegisteredCluster): Record<string, string> {
  return {
    [CLUSTER_SECRET_TYPE_LABEL]: "cluster",
    environment: cluster.environment,
    site: cluster.site,
    role: cluster.role,
    "cluster-name": cluster.name,
    "app.kubernetes.io/managed-by": "ske-platform",
  };
}

/** Metadata ApplicationSets template from, so Git needs no per-cluster file. */
export function clusterSecretAnnotations(
  cluster: RegisteredCluster,
  gitops: { repoUrl: string; revision: string },
): Record<string, string> {
  return {
    "ske-platform/gitops-repo-url": gitops.repoUrl,
    "ske-platform/gitops-revision": gitops.revision,
    "ske-platform/environment-path": environmentPath(cluster.environment),
    "ske-platform/cluster-path": `${environmentPath(cluster.environment)}/clusters/${cluster.name}`,
  };
}

export interface BearerTokenConnection {
  bearerToken: string;
  /** PEM of the cluster CA. */
  caCertificate: string;
}

/**
 * The `config` field of a cluster Secret. TLS is always verified against the
 * cluster's own CA; the ops cluster uses Argo CD's in-cluster service account.
 */
export function clusterConnectionConfig(connection: BearerTokenConnection | "in-cluster"): string {
  if (connection === "in-cluster") return JSON.stringify({ tlsClientConfig: { insecure: false } });
  if (!connection.bearerToken) throw new Error("cluster connection: the service-account token is empty");
  return JSON.stringify({
    bearerToken: connection.bearerToken,
    tlsClientConfig: { insecure: false, caData: Buffer.from(connection.caCertificate, "utf8").toString("base64") },
  });
}

export const environmentPath = (environment: string) => `environments/${environment}`;

export function gitopsRepoUrl(owner: string, repository: string): string {
  return `git@github.com:${owner}/${repository}.git`;
}

export interface ProjectDestination {
  server: string;
  namespace: string;
}

/**
 * One destination per cluster of this environment and nothing else: no
 * wildcard server, so an Application in this project cannot point at a
 * cluster of another environment even if someone registers one by hand.
 */
export function projectDestinations(servers: readonly string[]): ProjectDestination[] {
  const unique = [...new Set(servers)];
  for (const server of unique) {
    if (!/^https:\/\/[^*?]+$/.test(server)) {
      throw new Error(`AppProject destination "${server}" must be one concrete https:// server URL`);
    }
  }
  return unique.map((server) => ({ server, namespace: "*" }));
}

export interface GroupKind {
  group: string;
  kind: string;
}

export interface AppProjectSpec {
  description: string;
  sourceRepos: string[];
  destinations: ProjectDestination[];
  clusterResourceWhitelist: GroupKind[];
  namespaceResourceWhitelist?: GroupKind[];
  namespaceResourceBlacklist?: GroupKind[];
  orphanedResources?: { warn: boolean };
}

/**
 * Kinds that define Argo CD's own boundaries. Only the root project may
 * create Applications and ApplicationSets, and no project may create an
 * AppProject: a project written from Git could otherwise widen itself.
 */
export const ARGOCD_BOUNDARY_KINDS: readonly GroupKind[] = [
  { group: "argoproj.io", kind: "AppProject" },
  { group: "argoproj.io", kind: "Application" },
  { group: "argoproj.io", kind: "ApplicationSet" },
];

/** What the root app may create: Applications and ApplicationSets, nothing else. */
export const ROOT_PROJECT_KINDS: readonly GroupKind[] = [
  { group: "argoproj.io", kind: "Application" },
  { group: "argoproj.io", kind: "ApplicationSet" },
];

export const rootProjectName = (environment: string) => `${environment}-root`;

export function appProjectSpec(
  environment: string,
  repoUrl: string,
  servers: readonly string[],
  argocdNamespace = "argocd",
): AppProjectSpec {
  return {
    description: `Everything Argo CD deploys in the ${environment} environment`,
    sourceRepos: [repoUrl],
    destinations: [
      ...projectDestinations(servers),
      // Argo CD's own namespace holds its projects, cluster and repository Secrets: no workload app writes there.
      { server: IN_CLUSTER_SERVER, namespace: `!${argocdNamespace}` },
    ],
    // Platform add-ons install CRDs, webhooks and cluster RBAC; the destination list is the boundary.
    clusterResourceWhitelist: [{ group: "*", kind: "*" }],
    namespaceResourceBlacklist: [...ARGOCD_BOUNDARY_KINDS],
    orphanedResources: { warn: true },
  };
}

/**
 * The root app's project: it reads the environment's path and may create
 * only Applications and ApplicationSets in Argo CD's namespace, so a commit
 * cannot add an AppProject, a cluster Secret or anything cluster-scoped
 * through it.
 */
export function rootProjectSpec(environment: string, repoUrl: string, argocdNamespace: string): AppProjectSpec {
  return {
    description: `The app-of-apps of the ${environment} environment: Applications and ApplicationSets only`,
    sourceRepos: [repoUrl],
    destinations: [{ server: IN_CLUSTER_SERVER, namespace: argocdNamespace }],
    clusterResourceWhitelist: [],
    namespaceResourceWhitelist: [...ROOT_PROJECT_KINDS],
  };
}

/**
 * The built-in `default` project allows every repository, destination and
 * kind; Argo CD recreates it if deleted, so it is emptied instead. An
 * Application that names it (or no project) can deploy nothing.
 */
export function lockedDefaultProjectSpec(): AppProjectSpec {
  return {
    description: "Locked: every Application belongs to an environment project",
    sourceRepos: [],
    destinations: [],
    clusterResourceWhitelist: [],
    namespaceResourceWhitelist: [],
    namespaceResourceBlacklist: [{ group: "*", kind: "*" }],
  };
}

export interface RootApplicationSpec {
  project: string;
  source: { repoURL: string; targetRevision: string; path: string; directory: { recurse: boolean } };
  destination: { server: string; namespace: string };
  syncPolicy: {
    automated: { prune: true; selfHeal: true };
    syncOptions: string[];
  };
}

/** App-of-apps: everything else in the environment is declared under its path in Git. */
export function rootApplicationSpec(args: {
  project: string;
  repoUrl: string;
  revision: string;
  environment: string;
  namespace: string;
}): RootApplicationSpec {
  return {
    project: args.project,
    source: {
      repoURL: args.repoUrl,
      targetRevision: args.revision,
      path: environmentPath(args.environment),
      directory: { recurse: false },
    },
    destination: { server: IN_CLUSTER_SERVER, namespace: args.namespace },
    syncPolicy: { automated: { prune: true, selfHeal: true }, syncOptions: ["PrunePropagationPolicy=foreground"] },
  };
}

/** Deleting the root app deletes what it deployed, instead of orphaning it. */
export const RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io";
