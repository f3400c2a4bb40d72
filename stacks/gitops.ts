/**
 * The GitOps layer: Argo CD in the ops cluster with every cluster of the
 * environment registered, human access (auditors read-only) in every cluster,
 * Grafana for auditors, and the audit trail (collectors → Loki, plus the
 * object-lock archive).
 */
import { AUDIT_INGEST_PORT } from "../plan/security-rules";
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { ArgoCd, ArgoCdManagerAccess, IN_CLUSTER_SERVER, gitopsRepoUrl, type ClusterRegistration } from "../components/argocd";
import { AuditArchiveBucket, AuditCollector, AuditLogStore, type ArchiveCredentials } from "../components/audit-trail";
import { ClusterAccess, kubernetesGroups, type AccessGroups } from "../components/cluster-access";
import { Grafana } from "../components/grafana";
import { centralView, type CentralViewOutputs } from "./central-view";
import type { PlatformConfig } from "../config/schema";
import type { PlatformPlan } from "../plan/platform-plan";
import type { DeployedCluster, DeployedSite } from "./contracts";
import { clusterAccessArgs } from "./cluster-access";

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

const NAMESPACES = { logs: "audit-logs", collector: "audit-collector", monitoring: "monitoring" } as const;

export interface GitOpsArgs {
  plan: PlatformPlan;
  config: PlatformConfig;
  clusters: DeployedCluster[];
  /** Sites of the environment; the archive's site provides the S3 credential. */
  sites: DeployedSite[];
  /** From the GitHub layer; generated here when that layer is off. A secret. */
  deployKeyPrivatePem?: pulumi.Input<string>;
  /** The archive's own project (openstack-projects.yaml) and its bucket policy denying the other environments. */
  archiveSeparation?: { projectId: string; bucketPolicy: string };
}

export interface GitOpsOutputs {
  argocdNamespace: string;
  registeredClusters: string[];
  /** Only when the key was generated here: add it to the GitOps repo as a read-only deploy key. */
  deployKeyPublicOpenssh?: pulumi.Output<string>;
  auditArchive: { endpoint: string; bucket: string; lockMode: "COMPLIANCE"; lockDays: number };
  lokiRetentionDays: number;
  /** What the central view collects, where it goes and how long it stays. */
  centralView?: CentralViewOutputs;
}

type ReadyCluster = DeployedCluster & { provider: NonNullable<DeployedCluster["provider"]> };

/**
 * Undefined when the Kubernetes layer is off or any cluster has no provider
 * (nothing can be deployed into it yet).
 */
export function deployGitOps(args: GitOpsArgs): GitOpsOutputs | undefined {
  const { plan, config } = args;
  if (!config.layers.kubernetes) return undefined;
  if (args.clusters.length === 0 || args.clusters.some((c) => !c.provider)) return undefined;
  const clusters = args.clusters as ReadyCluster[];

  // Only this environment's clusters may be registered: Argo CD here must never reach another environment.
  const planned = new Set(plan.clusters.map((c) => c.name));
  const foreign = clusters.filter((c) => !planned.has(c.plan.name)).map((c) => c.plan.name);
  if (foreign.length > 0) {
    throw new Error(`${plan.environment}: clusters ${foreign.join(", ")} are not part of this environment's plan; refusing to register them`);
  }
  const ops = clusters.find((c) => c.plan.role === "ops");
  if (!ops) throw new Error(`${plan.environment}: no ops cluster among the deployed clusters; Argo CD runs there`);
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

  for (const cluster of clusters) {
    new ClusterAccess(`${cluster.plan.name}-access`, {
      ...clusterAccessArgs({ cluster: cluster.plan, config, groups: apiserverGroups, auditNamespaces: [NAMESPACES.collector, NAMESPACES.logs] }),
      provider: cluster.provider,
    });
  }

  // --- Argo CD ---------------------------------------------------------------
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
    const key = new tls.PrivateKey(`${env}-argocd-deploy-key`, { algorithm: "ED25519" });
    deployKeyPrivatePem = pulumi.secret(key.privateKeyPem);
    deployKeyPublicOpenssh = key.publicKeyOpenssh;
  }

  new ArgoCd(`${env}-argocd`, {
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

  // --- Audit trail -------------------------------------------------------------
  const archive = config.audit.archive;
  const archiveSite = args.sites.find((s) => s.plan.name === archive.site);
  if (!archiveSite) throw new Error(`${env}: audit.archive.site "${archive.site}" has no deployed site`);
  // RGW behind Keystone accepts EC2 credentials; created through the site's provider, the secret half stays a secret.
  const ec2 = new openstack.identity.Ec2CredentialV3(`${archiveSite.plan.prefix}-audit-archive-s3`, {
    region: archiveSite.plan.config.region,
    ...(args.archiveSeparation ? { projectId: args.archiveSeparation.projectId } : {}),
  }, { provider: archiveSite.provider });
  const credentials: ArchiveCredentials = { accessKeyId: pulumi.secret(ec2.access), secretAccessKey: pulumi.secret(ec2.secret) };

  new AuditArchiveBucket(`${env}-audit-archive`, {
    endpoint: archive.endpoint,
    bucket: archive.bucket,
    region: archiveSite.plan.config.region,
    mode: "COMPLIANCE",
    lockDays: config.audit.lockDays,
    retentionDays: config.audit.retentionDays,
    credentials,
    ...(args.archiveSeparation ? { bucketPolicy: args.archiveSeparation.bucketPolicy } : {}),
  });

  // One push credential per collector, so the gateway admits only this environment's clusters.
  const pushCredentials = new Map(clusters.map((cluster) => {
    const password = new random.RandomPassword(`${cluster.plan.name}-loki-push-password`, { length: 40, special: false });
    return [cluster.plan.name, { user: cluster.plan.name, password: pulumi.secret(password.result) }] as const;
  }));

  const store = new AuditLogStore(`${env}-audit-logs`, {
    chart: config.audit.charts.loki,
    namespace: NAMESPACES.logs,
    retentionDays: config.audit.retentionDays,
    storageSize: "50Gi",
    ingestNodePort: AUDIT_INGEST_PORT,
    pushCredentials: [...pushCredentials.values()],
    queryNamespace: NAMESPACES.monitoring,
    platformLogRetentionDays: config.monitoring.platformLogRetentionDays,
    platformGateway: centralView.gateway,
    provider: ops.provider,
  });

  const view = centralView.deploy({ plan, config, clusters, ops, lokiUrl: store.url, grafanaNamespace: NAMESPACES.monitoring });

  new Grafana(`${env}-grafana`, {
    chart: config.audit.charts.grafana,
    namespace: NAMESPACES.monitoring,
    rootUrl: GRAFANA_TUNNEL_URL,
    lokiUrl: store.url,
    centralView: view.grafana,
    sso: { ...sso, clientId: config.zitadel.grafanaClientId },
    provider: ops.provider,
  });

  const remotePushUrl = ops.endpoint.apply((endpoint) => `http://${new URL(endpoint).hostname}:${AUDIT_INGEST_PORT}`);
  for (const cluster of clusters) {
    new AuditCollector(`${cluster.plan.name}-audit-collector`, {
      chart: config.audit.charts.collector,
      namespace: NAMESPACES.collector,
      cluster: { name: cluster.plan.name, environment: env, site: cluster.plan.site, role: cluster.plan.role },
      lokiUrl: cluster === ops ? store.pushUrl : remotePushUrl,
      lokiPush: pushCredentials.get(cluster.plan.name)!,
      archive: { endpoint: archive.endpoint, bucket: archive.bucket, region: archiveSite.plan.config.region, credentials },
      ...(config.audit.siem ? { siem: config.audit.siem } : {}),
      // Secret from here on: the value came from a `--secret` config key (config/siem-auth.ts).
      ...(config.siemToken !== undefined ? { siemToken: pulumi.secret(config.siemToken) } : {}),
      provider: cluster.provider,
    });
  }

  return {
    argocdNamespace: config.argocd.namespace,
    registeredClusters: clusters.map((c) => c.plan.name),
    ...(deployKeyPublicOpenssh ? { deployKeyPublicOpenssh } : {}),
    auditArchive: { endpoint: archive.endpoint, bucket: archive.bucket, lockMode: "COMPLIANCE", lockDays: config.audit.lockDays },
    lokiRetentionDays: config.audit.retentionDays,
    centralView: view.outputs,
  };
}
