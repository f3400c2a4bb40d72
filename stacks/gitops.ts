/**
 * The GitOps layer: Argo CD in the ops cluster with every cluster of the
 * environment registered, human access (auditors read-only) in every cluster,
 * Grafana for auditors, and the audit trail (stacks/audit-trail.ts:
 * collectors → Loki, plus the object-lock archive).
 */
import { AUDIT_INGEST_PORT } from "../plan/security-rules";
import type * as pulumi from "@pulumi/pulumi";
import {
  ArgoCd,
  ArgoCdManagerAccess,
  IN_CLUSTER_SERVER,
  gitopsRepoUrl,
  type ClusterRegistration,
} from "../components/argocd";
import type { ArchiveReadBackReport } from "../components/audit-trail";
import { ClusterAccess, kubernetesGroups, type AccessGroups } from "../components/cluster-access";
import { Grafana } from "../components/grafana";
import { centralView, type CentralViewOutputs } from "./central-view";
import type { PlatformConfig } from "../config/schema";
import type { PlatformPlan } from "../plan/platform-plan";
import type { DeployedCluster, DeployedSite, ReadyCluster } from "./contracts";
import { clusterAccessArgs } from "./cluster-access";
import { deployClusterApi, type ClusterApiOutputs } from "./cluster-api";
import { deployAuditCollectors, deployAuditStore, ingestServerCertificate, type AuditNamespaces } from "./audit-trail";
import { argocdDeployKey } from "./deploy-key";

/** Where operators open Argo CD through the jump host's SSH tunnel; registered as redirect base in Zitadel. */
export const ARGOCD_TUNNEL_URL = "https://localhost:8080";
/** Same for Grafana. */
export const GRAFANA_TUNNEL_URL = "http://localhost:3000";
/**
 * Port on which the other clusters' collectors push to Loki: the ops
 * cluster's load-balancer VIP forwards it to the same NodePort on the ops nodes.
 */
export { AUDIT_INGEST_PORT };
export const GITOPS_REVISION = "main";

const NAMESPACES: AuditNamespaces = { logs: "audit-logs", collector: "audit-collector", monitoring: "monitoring" };

export interface GitOpsArgs {
  plan: PlatformPlan;
  config: PlatformConfig;
  clusters: DeployedCluster[];
  /** Sites of the environment; the archive's site provides the S3 credential. */
  sites: DeployedSite[];
  /** From the GitHub layer; generated here when that layer is off. A secret. */
  deployKeyPrivatePem?: pulumi.Input<string>;
  /** The archive's own project (openstack-projects.yaml) and its bucket policy denying the other environments. */
  archiveSeparation: { projectId: string; foreignProjectIds: string[] };
}

export interface GitOpsOutputs {
  argocdNamespace: string;
  registeredClusters: string[];
  /** Only when the key was generated here: add it to the GitOps repo as a read-only deploy key. */
  deployKeyPublicOpenssh?: pulumi.Output<string>;
  /** What RGW answered on this run (lock mode and days, owner, writers' grants), never the configured values. */
  auditArchive: { endpoint: string; bucket: string; readBack: pulumi.Output<ArchiveReadBackReport> };
  lokiRetentionDays: number;
  clusterApi: ClusterApiOutputs;
  /** What the central view collects, where it goes and how long it stays. */
  centralView?: CentralViewOutputs;
}

/**
 * Undefined when the Kubernetes layer is off or any cluster has no provider
 * (nothing can be deployed into it yet).
 */
export function deployGitOps(args: GitOpsArgs): GitOpsOutputs | undefined {
  const { plan, config } = args;
  if (!config.layers.kubernetes) return undefined;
  if (args.clusters.length === 0 || args.clusters.some((c) => !c.provider)) return undefined;
  const clusters = args.clusters as ReadyCluster[];
  const ops = opsClusterOf(plan, clusters);
  const env = plan.environment;

  const tokenGroups: AccessGroups = { platform: config.zitadel.platformGroup, auditors: config.zitadel.auditorGroup };
  const apiserverGroups = kubernetesGroups(tokenGroups, config.zitadel.groupsPrefix);
  const sso = {
    issuer: config.zitadel.issuer,
    groupsClaim: config.zitadel.groupsClaim,
    platformGroup: tokenGroups.platform,
    auditorGroup: tokenGroups.auditors,
    requireMfa: config.zitadel.requireMfa,
  };

  grantClusterAccess(config, clusters, apiserverGroups);

  const { argocd, deployKeyPublicOpenssh } = deployArgoCd({
    env,
    config,
    clusters,
    ops,
    sso,
    deployKeyPrivatePem: args.deployKeyPrivatePem,
  });

  const clusterApi = deployClusterApi({
    config,
    argocdNamespace: config.argocd.namespace,
    argocd: argocd.release,
    ops,
    clusters,
    sites: args.sites,
  });

  const auditTrail = deployAuditStore({
    env,
    config,
    clusters,
    ops,
    sites: args.sites,
    archiveSeparation: args.archiveSeparation,
    namespaces: NAMESPACES,
  });

  // The platform gateway: its own key, from the same ingest CA, naming its own in-cluster name.
  const platformTls = {
    caPem: auditTrail.ingestTls.caPem,
    ...ingestServerCertificate(
      `${env}-platform-ingest`,
      auditTrail.ingestTls.ca,
      ops.endpoint,
      centralView.gateway.host,
    ),
  };
  const view = centralView.deploy({
    plan,
    config,
    clusters,
    ops,
    lokiUrl: auditTrail.store.url,
    grafanaNamespace: NAMESPACES.monitoring,
    tls: platformTls,
  });

  new Grafana(`${env}-grafana`, {
    chart: config.audit.charts.grafana,
    namespace: NAMESPACES.monitoring,
    rootUrl: GRAFANA_TUNNEL_URL,
    lokiUrl: auditTrail.store.url,
    centralView: view.grafana,
    sso: { ...sso, clientId: config.zitadel.grafanaClientId },
    provider: ops.provider,
  });

  deployAuditCollectors({ env, config, clusters, ops, namespaces: NAMESPACES }, auditTrail);

  return {
    argocdNamespace: config.argocd.namespace,
    registeredClusters: clusters.map((c) => c.plan.name),
    ...(deployKeyPublicOpenssh ? { deployKeyPublicOpenssh } : {}),
    auditArchive: auditTrail.archive,
    lokiRetentionDays: config.audit.retentionDays,
    clusterApi,
    centralView: view.outputs,
  };
}

/**
 * The ops cluster, after checking that every deployed cluster belongs to this
 * environment's plan: Argo CD here must never reach another environment.
 */
function opsClusterOf(plan: PlatformPlan, clusters: ReadyCluster[]): ReadyCluster {
  const planned = new Set(plan.clusters.map((c) => c.name));
  const foreign = clusters.filter((c) => !planned.has(c.plan.name)).map((c) => c.plan.name);
  if (foreign.length > 0) {
    throw new Error(
      `${plan.environment}: clusters ${foreign.join(", ")} are not part of this environment's plan; refusing to register them`,
    );
  }
  const ops = clusters.find((c) => c.plan.role === "ops");
  if (!ops) throw new Error(`${plan.environment}: no ops cluster among the deployed clusters; Argo CD runs there`);
  return ops;
}

/** Human access (SSO groups, auditors read-only) in every cluster of the environment. */
function grantClusterAccess(config: PlatformConfig, clusters: ReadyCluster[], apiserverGroups: AccessGroups): void {
  for (const cluster of clusters) {
    new ClusterAccess(`${cluster.plan.name}-access`, {
      ...clusterAccessArgs({
        cluster: cluster.plan,
        config,
        groups: apiserverGroups,
        auditNamespaces: [NAMESPACES.collector, NAMESPACES.logs],
      }),
      provider: cluster.provider,
    });
  }
}

/**
 * Argo CD in the ops cluster with every cluster of the environment
 * registered: the ops cluster in-cluster, the others through a manager
 * account of their own. The deploy key comes from the GitHub layer, or is
 * generated here when that layer is off.
 */
function deployArgoCd(args: {
  env: string;
  config: PlatformConfig;
  clusters: ReadyCluster[];
  ops: ReadyCluster;
  sso: { issuer: string; groupsClaim: string; platformGroup: string; auditorGroup: string; requireMfa: boolean };
  deployKeyPrivatePem: pulumi.Input<string> | undefined;
}): { argocd: ArgoCd; deployKeyPublicOpenssh: pulumi.Output<string> | undefined } {
  const { env, config, clusters, ops, sso } = args;
  const registrations: ClusterRegistration[] = clusters.map((cluster) => {
    const registered = { name: cluster.plan.name, environment: env, site: cluster.plan.site, role: cluster.plan.role };
    if (cluster === ops) return { cluster: registered, server: IN_CLUSTER_SERVER };
    const manager = new ArgoCdManagerAccess(`${cluster.plan.name}-argocd-manager`, {
      clusterName: cluster.plan.name,
      provider: cluster.provider,
    });
    return {
      cluster: registered,
      server: cluster.endpoint,
      credentials: { bearerToken: manager.token, caCertificate: cluster.caCertificate },
    };
  });

  let deployKeyPrivatePem = args.deployKeyPrivatePem;
  let deployKeyPublicOpenssh: pulumi.Output<string> | undefined;
  if (deployKeyPrivatePem === undefined) {
    const key = argocdDeployKey(env);
    deployKeyPrivatePem = key.privateKeyPem;
    deployKeyPublicOpenssh = key.publicKeyOpenssh;
  }

  const argocd = new ArgoCd(`${env}-argocd`, {
    environment: env,
    chart: { repository: config.argocd.chartRepository, version: config.argocd.chartVersion },
    namespace: config.argocd.namespace,
    url: ARGOCD_TUNNEL_URL,
    sso: { ...sso, clientId: config.zitadel.argocdClientId },
    gitops: { repoUrl: gitopsRepoUrl(config.github.owner, config.github.gitopsRepository), revision: GITOPS_REVISION },
    deployKeyPrivatePem,
    clusters: registrations,
    provider: ops.provider,
  });
  return { argocd, deployKeyPublicOpenssh };
}
