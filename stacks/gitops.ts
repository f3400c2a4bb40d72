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
import {
  AuditArchiveBucket,
  AuditCollector,
  AuditLogStore,
  ingestGatewayHost,
  type ArchiveCredentials,
  type ArchiveReadBackReport,
} from "../components/audit-trail";
import { parseAddress } from "../plan/cidr";
import { ClusterAccess, kubernetesGroups, type AccessGroups } from "../components/cluster-access";
import { Grafana } from "../components/grafana";
import { centralView, type CentralViewOutputs } from "./central-view";
import type { PlatformConfig } from "../config/schema";
import type { PlatformPlan } from "../plan/platform-plan";
import type { DeployedCluster, DeployedSite } from "./contracts";
import { clusterAccessArgs } from "./cluster-access";
import { deployClusterApi, type ClusterApiOutputs } from "./cluster-api";

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

  const clusterApi = deployClusterApi({ config, argocdNamespace: config.argocd.namespace, argocd: argocd.release, ops, clusters, sites: args.sites });

  // --- Audit trail -------------------------------------------------------------
  const archive = config.audit.archive;
  const archiveSite = args.sites.find((s) => s.plan.name === archive.site);
  if (!archiveSite) throw new Error(`${env}: audit.archive.site "${archive.site}" has no deployed site`);
  // RGW behind Keystone accepts EC2 credentials; created through the site's provider, the secret half stays a secret.
  // This one is the deploy identity's own (the bucket owner): it configures the bucket and is never given to a collector.
  const ec2 = new openstack.identity.Ec2CredentialV3(`${archiveSite.plan.prefix}-audit-archive-s3`, {
    region: archiveSite.plan.config.region,
    projectId: args.archiveSeparation.projectId,
  }, { provider: archiveSite.provider });
  const credentials: ArchiveCredentials = { accessKeyId: pulumi.secret(ec2.access), secretAccessKey: pulumi.secret(ec2.secret) };

  // RGW sees one user per Keystone project, so each collector writes as a project of its own, which
  // the bucket policy allows to put under `<cluster>/` and nothing else (docs/decisions/audit-archive-identity.md).
  const writers = clusters.map((cluster) => {
    const projectId = archive.writerProjects[cluster.plan.name];
    if (!projectId) throw new Error(`${env}: audit.archive.writerProjects has no project for ${cluster.plan.name}`);
    // Named after the archive site, whose provider mints it; the cluster is in the suffix.
    const resourceName = `${archiveSite.plan.prefix}-audit-archive-writer-${cluster.plan.site}-${cluster.plan.id}`;
    const credential = new openstack.identity.Ec2CredentialV3(resourceName, {
      region: archiveSite.plan.config.region,
      projectId,
    }, { provider: archiveSite.provider });
    return {
      cluster: cluster.plan.name,
      projectId,
      resourceName,
      credentials: { accessKeyId: pulumi.secret(credential.access), secretAccessKey: pulumi.secret(credential.secret) } satisfies ArchiveCredentials,
    };
  });
  const writerOf = new Map(writers.map((w) => [w.cluster, w]));

  const archiveBucket = new AuditArchiveBucket(`${env}-audit-archive`, {
    endpoint: archive.endpoint,
    bucket: archive.bucket,
    region: archiveSite.plan.config.region,
    mode: "COMPLIANCE",
    lockDays: config.audit.lockDays,
    retentionDays: config.audit.retentionDays,
    credentials,
    writers: writers.map(({ cluster, projectId }) => ({ cluster, projectId })),
    foreignProjectIds: args.archiveSeparation.foreignProjectIds,
  });

  // One push credential per collector, so the gateway admits only this environment's clusters.
  const pushCredentials = new Map(clusters.map((cluster) => {
    const password = new random.RandomPassword(`${cluster.plan.name}-loki-push-password`, { length: 40, special: false });
    return [cluster.plan.name, { user: cluster.plan.name, password: pulumi.secret(password.result) }] as const;
  }));

  // TLS for the push path: the program's own CA, trusted only by this environment's collectors.
  const ingestTls = ingestCertificates(env, ops.endpoint, NAMESPACES.logs);

  const store = new AuditLogStore(`${env}-audit-logs`, {
    chart: config.audit.charts.loki,
    namespace: NAMESPACES.logs,
    retentionDays: config.audit.retentionDays,
    storageSize: "50Gi",
    ingestNodePort: AUDIT_INGEST_PORT,
    pushCredentials: [...pushCredentials.values()],
    tls: { certPem: ingestTls.certPem, keyPem: ingestTls.keyPem },
    queryNamespace: NAMESPACES.monitoring,
    platformLogRetentionDays: config.monitoring.platformLogRetentionDays,
    platformGateway: centralView.gateway,
    provider: ops.provider,
  });

  // The platform gateway: its own key, from the same ingest CA, naming its own in-cluster name.
  const platformTls = { caPem: ingestTls.caPem, ...ingestServerCertificate(`${env}-platform-ingest`, ingestTls.ca, ops.endpoint, centralView.gateway.host) };
  const view = centralView.deploy({ plan, config, clusters, ops, lokiUrl: store.url, grafanaNamespace: NAMESPACES.monitoring, tls: platformTls });

  new Grafana(`${env}-grafana`, {
    chart: config.audit.charts.grafana,
    namespace: NAMESPACES.monitoring,
    rootUrl: GRAFANA_TUNNEL_URL,
    lokiUrl: store.url,
    centralView: view.grafana,
    sso: { ...sso, clientId: config.zitadel.grafanaClientId },
    provider: ops.provider,
  });

  const remotePushUrl = ops.endpoint.apply((endpoint) => `https://${new URL(endpoint).hostname}:${AUDIT_INGEST_PORT}`);
  for (const cluster of clusters) {
    new AuditCollector(`${cluster.plan.name}-audit-collector`, {
      chart: config.audit.charts.collector,
      namespace: NAMESPACES.collector,
      cluster: { name: cluster.plan.name, environment: env, site: cluster.plan.site, role: cluster.plan.role },
      lokiUrl: cluster === ops ? store.pushUrl : remotePushUrl,
      lokiPush: { ...pushCredentials.get(cluster.plan.name)!, caPem: ingestTls.caPem },
      archive: {
        endpoint: archive.endpoint,
        bucket: archive.bucket,
        region: archiveSite.plan.config.region,
        credentials: writerOf.get(cluster.plan.name)!.credentials,
        writer: { projectId: writerOf.get(cluster.plan.name)!.projectId, credentialResource: writerOf.get(cluster.plan.name)!.resourceName },
      },
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
    auditArchive: { endpoint: archive.endpoint, bucket: archive.bucket, readBack: archiveBucket.readBack },
    lokiRetentionDays: config.audit.retentionDays,
    clusterApi,
    centralView: view.outputs,
  };
}

/**
 * The ingest gateway's CA and server certificate. The certificate names the
 * ops VIP (what remote collectors dial, through HAProxy's TCP passthrough)
 * and the gateway's in-cluster name (what the ops collector dials). Renewed
 * by an `up` in the last 30 days of its two years.
 */
function ingestCertificates(env: string, opsEndpoint: pulumi.Output<string>, namespace: string) {
  const caKey = new tls.PrivateKey(`${env}-audit-ingest-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" });
  const ca = new tls.SelfSignedCert(`${env}-audit-ingest-ca`, {
    privateKeyPem: caKey.privateKeyPem,
    isCaCertificate: true,
    subject: { commonName: `${env} audit ingest CA`, organization: "ske-platform" },
    validityPeriodHours: 10 * 365 * 24,
    allowedUses: ["cert_signing", "crl_signing"],
  });
  const caPair = { certPem: ca.certPem, privateKeyPem: caKey.privateKeyPem };
  // Common name: the first label of the in-cluster host, the gateway's name.
  const server = ingestServerCertificate(`${env}-audit-ingest`, caPair, opsEndpoint, ingestGatewayHost(namespace));
  return { caPem: ca.certPem, certPem: server.certPem, keyPem: server.keyPem, ca: caPair };
}

/**
 * A further server certificate from the ingest CA, on the same terms as the
 * audit gateway's: it names the ops VIP (remote pushers come through
 * HAProxy's TCP passthrough) and `inClusterHost` (the ops cluster's own).
 */
function ingestServerCertificate(
  prefix: string,
  ca: { certPem: pulumi.Output<string>; privateKeyPem: pulumi.Output<string> },
  opsEndpoint: pulumi.Output<string>,
  inClusterHost: string,
) {
  const key = new tls.PrivateKey(`${prefix}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" });
  const host = opsEndpoint.apply((endpoint) => new URL(endpoint).hostname);
  const request = new tls.CertRequest(`${prefix}-csr`, {
    privateKeyPem: key.privateKeyPem,
    subject: { commonName: inClusterHost.split(".")[0]!, organization: "ske-platform" },
    dnsNames: host.apply((h) => [inClusterHost, ...(parseAddress(h) === undefined ? [h] : [])]),
    ipAddresses: host.apply((h) => (parseAddress(h) === undefined ? [] : [h])),
  });
  const cert = new tls.LocallySignedCert(`${prefix}-cert`, {
    certRequestPem: request.certRequestPem,
    caPrivateKeyPem: ca.privateKeyPem,
    caCertPem: ca.certPem,
    validityPeriodHours: 2 * 365 * 24,
    earlyRenewalHours: 30 * 24,
    allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
  });
  return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
}
