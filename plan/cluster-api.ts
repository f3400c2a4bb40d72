/**
 * Cluster API on the management clusters: the pinned versions (the one place
 * they are written), the Argo CD objects that install it, the OpenStack
 * identity Cluster API creates machines with, and the Secret that carries it.
 * Pure data; components/cluster-api turns it into resources.
 */
import { stringify as toYaml } from "yaml";
import { CLUSTER_SECRET_TYPE_LABEL, IN_CLUSTER_SERVER } from "./argocd";

/**
 * Every version of the Cluster API stack, and where it comes from. The
 * ApplicationSets install exactly these; the CRD extract that the example
 * workload cluster is validated against (test/fixtures/capi-crd-schemas.json)
 * is read from the Go modules of exactly these; `scripts/capi-crds/extract.ts
 * --verify` fails when the two disagree.
 */
export const CLUSTER_API_VERSIONS = {
  certManager: { chartRepository: "https://charts.jetstack.io", chart: "cert-manager", version: "v1.19.1" },
  /** Installs the providers below from their release manifests, declared as custom resources. */
  operator: {
    chartRepository: "https://kubernetes-sigs.github.io/cluster-api-operator",
    chart: "cluster-api-operator",
    version: "0.23.0",
  },
  core: { provider: "cluster-api", namespace: "capi-system", module: "sigs.k8s.io/cluster-api", version: "v1.11.3" },
  infrastructure: {
    provider: "openstack",
    namespace: "capo-system",
    module: "sigs.k8s.io/cluster-api-provider-openstack",
    version: "v0.13.0",
  },
  bootstrap: {
    provider: "talos",
    namespace: "cabpt-system",
    module: "github.com/siderolabs/cluster-api-bootstrap-provider-talos",
    version: "v0.6.11",
  },
  controlPlane: {
    provider: "talos",
    namespace: "cacppt-system",
    module: "github.com/siderolabs/cluster-api-control-plane-provider-talos",
    version: "v0.5.10",
  },
} as const;

export type ProviderKey = "core" | "infrastructure" | "bootstrap" | "controlPlane";
export const PROVIDER_KEYS: readonly ProviderKey[] = ["core", "infrastructure", "bootstrap", "controlPlane"];

export const CAPI_NAMESPACES = {
  certManager: "cert-manager",
  operator: "capi-operator-system",
  /** Where workload clusters are declared, and where their OpenStack identity lives (CAPO reads it from the cluster's namespace). */
  workloads: "workload-clusters",
} as const;

/** The Secret name and clouds.yaml entry that workload clusters' `identityRef` names. */
export const CAPI_IDENTITY = { secretName: "openstack-identity", cloudName: "openstack" } as const;

export const clusterApiProjectName = (environment: string) => `${environment}-cluster-api`;

/**
 * The AppProject of the Cluster API Applications: only the two pinned chart
 * repositories, only the management clusters, so the chart sources that the
 * environment project refuses (it admits only the GitOps repository) are
 * admitted here and nowhere else.
 */
export function clusterApiAppProjectSpec(environment: string, managementServers: readonly string[]) {
  const servers = [...new Set(managementServers)];
  for (const server of servers) {
    if (!/^https:\/\/[^*?]+$/.test(server) || server === IN_CLUSTER_SERVER) {
      throw new Error(
        `${clusterApiProjectName(environment)}: destination "${server}" must be one concrete management cluster URL`,
      );
    }
  }
  return {
    description: `cert-manager and the Cluster API providers on the ${environment} management clusters`,
    sourceRepos: [CLUSTER_API_VERSIONS.certManager.chartRepository, CLUSTER_API_VERSIONS.operator.chartRepository],
    destinations: servers.map((server) => ({ server, namespace: "*" })),
    // CRDs, webhooks and controller RBAC of cert-manager and the providers.
    clusterResourceWhitelist: [{ group: "*", kind: "*" }],
    namespaceResourceBlacklist: [
      { group: "argoproj.io", kind: "AppProject" },
      { group: "argoproj.io", kind: "Application" },
      { group: "argoproj.io", kind: "ApplicationSet" },
    ],
  };
}

/** The cluster generator's selector: this environment's management clusters, whatever their site. */
export function managementClusterSelector(environment: string) {
  return {
    matchLabels: {
      [CLUSTER_SECRET_TYPE_LABEL]: "cluster",
      environment,
      role: "management",
    },
  };
}

/** The values the cluster-api-operator chart renders its provider custom resources from. */
export function operatorValues() {
  const v = CLUSTER_API_VERSIONS;
  // Each provider in its own namespace, as clusterctl lays them out.
  const provider = (key: ProviderKey) => ({
    [v[key].provider]: { namespace: v[key].namespace, version: v[key].version },
  });
  return {
    core: provider("core"),
    infrastructure: provider("infrastructure"),
    bootstrap: provider("bootstrap"),
    controlPlane: provider("controlPlane"),
  };
}

type AppKey = "cert-manager" | "cluster-api";

/**
 * One ApplicationSet per add-on. The template names nothing per site: the
 * cluster's name, server and site come from its cluster Secret, so a new
 * site's management cluster is targeted the moment the program registers it.
 */
export function clusterApiApplicationSet(args: { environment: string; argocdNamespace: string; app: AppKey }) {
  const { environment, app } = args;
  const v = CLUSTER_API_VERSIONS;
  const chart =
    app === "cert-manager"
      ? {
          repoURL: v.certManager.chartRepository,
          chart: v.certManager.chart,
          targetRevision: v.certManager.version,
          helm: { valuesObject: { crds: { enabled: true } } },
        }
      : {
          repoURL: v.operator.chartRepository,
          chart: v.operator.chart,
          targetRevision: v.operator.version,
          helm: { valuesObject: operatorValues() },
        };
  const namespace = app === "cert-manager" ? CAPI_NAMESPACES.certManager : CAPI_NAMESPACES.operator;
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "ApplicationSet",
    metadata: { name: `${environment}-${app}`, namespace: args.argocdNamespace },
    spec: {
      goTemplate: false,
      generators: [{ clusters: { selector: managementClusterSelector(environment) } }],
      template: {
        metadata: {
          name: `{{name}}-${app}`,
          labels: { "ske-platform/site": "{{metadata.labels.site}}", "app.kubernetes.io/part-of": "cluster-api" },
        },
        spec: {
          project: clusterApiProjectName(environment),
          source: chart,
          destination: { server: "{{server}}", namespace },
          syncPolicy: {
            automated: { prune: true, selfHeal: true },
            syncOptions: ["CreateNamespace=true", "ServerSideApply=true"],
            // Two ApplicationSets have no order: the providers' Certificates fail until cert-manager's webhook answers, then succeed.
            retry: { limit: 20, backoff: { duration: "30s", factor: 2, maxDuration: "10m" } },
          },
        },
      },
    },
  };
}

export const CLUSTER_API_APPS: readonly AppKey[] = ["cert-manager", "cluster-api"];

// --- The OpenStack identity ---------------------------------------------------

/**
 * Keystone's `member` is what creating servers, ports, security groups and
 * server groups in the project needs; no admin, no `load-balancer_*` (there is
 * no Octavia), and the credential may not make credentials or trusts.
 */
export const CAPI_CREDENTIAL_ROLES: readonly string[] = ["member"];

/** Only the APIs CAPO calls; Keystone refuses the credential's token everywhere else. */
export const CAPI_ACCESS_RULES: readonly { service: string; method: string; path: string }[] = [
  ...["GET", "POST", "PUT", "DELETE"].map((method) => ({ service: "compute", method, path: "/v2.1/**" })),
  ...["GET", "POST", "PUT", "DELETE"].map((method) => ({ service: "network", method, path: "/v2.0/**" })),
  { service: "image", method: "GET", path: "/v2/**" },
];

export interface ClusterApiSiteSettings {
  /** The project workload clusters live in; must be the environment's own declared project of the site. */
  projectId: string;
  /** Keystone's public endpoint as the management cluster reaches it. */
  authUrl: string;
  /** Raising it replaces the credential: the new one is made and delivered before the old one is deleted. */
  credentialGeneration: number;
  /** RFC 3339; absent, the credential does not expire (rotation is by generation). */
  credentialExpiresAt?: string | undefined;
}

export const capiCredentialName = (clusterName: string, generation: number) => `${clusterName}-capi-g${generation}`;

/** The `clouds.yaml` that CAPO reads from the identity Secret (`identityRef.cloudName` selects the entry). */
export function capiCloudsYaml(args: {
  authUrl: string;
  region: string;
  credentialId: string;
  credentialSecret: string;
}): string {
  if (!args.credentialId || !args.credentialSecret)
    throw new Error("Cluster API identity: the application credential has no id or secret");
  return toYaml({
    clouds: {
      [CAPI_IDENTITY.cloudName]: {
        auth: {
          auth_url: args.authUrl,
          application_credential_id: args.credentialId,
          application_credential_secret: args.credentialSecret,
        },
        auth_type: "v3applicationcredential",
        region_name: args.region,
        interface: "public",
        identity_api_version: 3,
      },
    },
  });
}

/** Non-secret metadata of the identity Secret: what the policy and the report read. */
export function capiIdentityMetadata(args: {
  environment: string;
  site: string;
  projectId: string;
  credentialName: string;
}) {
  return {
    name: CAPI_IDENTITY.secretName,
    namespace: CAPI_NAMESPACES.workloads,
    labels: {
      "app.kubernetes.io/managed-by": "ske-platform",
      "clusterctl.cluster.x-k8s.io/move": "true",
      environment: args.environment,
      site: args.site,
    },
    annotations: {
      "ske-platform/openstack-project-id": args.projectId,
      "ske-platform/application-credential": args.credentialName,
    },
  };
}
