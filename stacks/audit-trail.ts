/**
 * The audit trail, part of the GitOps layer (stacks/gitops.ts): the
 * object-lock archive and its per-cluster writer credentials, the Loki store
 * in the ops cluster behind a TLS ingest gateway, and one collector per
 * cluster pushing to both. The central view and Grafana read the store in
 * between the two halves, so the GitOps layer calls them in order.
 */
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import {
  AuditArchiveBucket,
  AuditCollector,
  AuditLogStore,
  ingestGatewayHost,
  type ArchiveCredentials,
  type ArchiveReadBackReport,
} from "../components/audit-trail";
import type { PlatformConfig } from "../config/schema";
import { parseAddress } from "../plan/cidr";
import { AUDIT_INGEST_PORT } from "../plan/security-rules";
import { centralView } from "./central-view";
import type { DeployedSite, ReadyCluster } from "./contracts";

export interface AuditNamespaces {
  /** Loki and its ingest gateway, in the ops cluster. */
  logs: string;
  /** The collector, in every cluster. */
  collector: string;
  /** Grafana and the central view's store, which query Loki. */
  monitoring: string;
}

interface AuditTrailArgs {
  env: string;
  config: PlatformConfig;
  /** Every cluster of the environment, each with its Kubernetes provider. */
  clusters: ReadyCluster[];
  ops: ReadyCluster;
  namespaces: AuditNamespaces;
}

/** What the collectors need from the store, and what the stack reports. */
export interface AuditStore {
  store: AuditLogStore;
  ingestTls: ReturnType<typeof ingestCertificates>;
  /** Per cluster name. */
  pushCredentials: Map<string, { user: string; password: pulumi.Output<string> }>;
  /** Per cluster name. */
  writers: Map<string, { projectId: string; resourceName: string; credentials: ArchiveCredentials }>;
  archiveRegion: string;
  /** What RGW answered on this run (lock mode and days, owner, writers' grants), never the configured values. */
  archive: { endpoint: string; bucket: string; readBack: pulumi.Output<ArchiveReadBackReport> };
}

/** The archive bucket with its writers, and the Loki store with its push credentials and ingest TLS. */
export function deployAuditStore(
  args: AuditTrailArgs & {
    sites: DeployedSite[];
    archiveSeparation: { projectId: string; foreignProjectIds: string[] };
  },
): AuditStore {
  const { env, config, clusters, ops, namespaces: NAMESPACES } = args;
  const archive = config.audit.archive;
  const archiveSite = args.sites.find((s) => s.plan.name === archive.site);
  if (!archiveSite) throw new Error(`${env}: audit.archive.site "${archive.site}" has no deployed site`);
  // RGW behind Keystone accepts EC2 credentials; created through the site's provider, the secret half stays a secret.
  // This one is the deploy identity's own (the bucket owner): it configures the bucket and is never given to a collector.
  const ec2 = new openstack.identity.Ec2CredentialV3(
    `${archiveSite.plan.prefix}-audit-archive-s3`,
    {
      region: archiveSite.plan.config.region,
      projectId: args.archiveSeparation.projectId,
    },
    { provider: archiveSite.provider },
  );
  const credentials: ArchiveCredentials = {
    accessKeyId: pulumi.secret(ec2.access),
    secretAccessKey: pulumi.secret(ec2.secret),
  };

  // RGW sees one user per Keystone project, so each collector writes as a project of its own, which
  // the bucket policy allows to put under `<cluster>/` and nothing else (docs/decisions/audit-archive-identity.md).
  const writers = clusters.map((cluster) => {
    const projectId = archive.writerProjects[cluster.plan.name];
    if (!projectId) throw new Error(`${env}: audit.archive.writerProjects has no project for ${cluster.plan.name}`);
    // Named after the archive site, whose provider mints it; the cluster is in the suffix.
    const resourceName = `${archiveSite.plan.prefix}-audit-archive-writer-${cluster.plan.site}-${cluster.plan.id}`;
    const credential = new openstack.identity.Ec2CredentialV3(
      resourceName,
      {
        region: archiveSite.plan.config.region,
        projectId,
      },
      { provider: archiveSite.provider },
    );
    return {
      cluster: cluster.plan.name,
      projectId,
      resourceName,
      credentials: {
        accessKeyId: pulumi.secret(credential.access),
        secretAccessKey: pulumi.secret(credential.secret),
      } satisfies ArchiveCredentials,
    };
  });

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
  const pushCredentials = new Map(
    clusters.map((cluster) => {
      const password = new random.RandomPassword(`${cluster.plan.name}-loki-push-password`, {
        length: 40,
        special: false,
      });
      return [cluster.plan.name, { user: cluster.plan.name, password: pulumi.secret(password.result) }] as const;
    }),
  );

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

  return {
    store,
    ingestTls,
    pushCredentials,
    writers: new Map(writers.map((w) => [w.cluster, w])),
    archiveRegion: archiveSite.plan.config.region,
    archive: { endpoint: archive.endpoint, bucket: archive.bucket, readBack: archiveBucket.readBack },
  };
}

/** One collector per cluster: to Loki (through the ops VIP for the other clusters) and to the archive. */
export function deployAuditCollectors(args: AuditTrailArgs, audit: AuditStore): void {
  const { env, config, clusters, ops, namespaces: NAMESPACES } = args;
  const archive = config.audit.archive;
  const { store, ingestTls, pushCredentials } = audit;
  const writerOf = audit.writers;
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
        region: audit.archiveRegion,
        credentials: writerOf.get(cluster.plan.name)!.credentials,
        writer: {
          projectId: writerOf.get(cluster.plan.name)!.projectId,
          credentialResource: writerOf.get(cluster.plan.name)!.resourceName,
        },
      },
      ...(config.audit.siem ? { siem: config.audit.siem } : {}),
      // Secret from here on: the value came from a `--secret` config key (config/siem-auth.ts).
      ...(config.siemToken !== undefined ? { siemToken: pulumi.secret(config.siemToken) } : {}),
      provider: cluster.provider,
    });
  }
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
export function ingestServerCertificate(
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
