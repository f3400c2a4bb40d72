import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ARCHIVE_SECRET_KEYS, COLLECTOR_POD_SECURITY, LOKI_PUSH_SECRET, LOKI_PUSH_SECRET_KEY, SIEM_TOKEN_SECRET_KEY, collectorNetworkPolicySpec, collectorValues, type CollectedCluster, type SiemSink } from "./collector-values";
import {
  INGEST_CA_CONFIGMAP,
  INGEST_CA_DIR,
  INGEST_CA_KEY,
  INGEST_GATEWAY_LABELS,
  INGEST_GATEWAY_NAME,
  INGEST_GATEWAY_PORT,
  ingestGatewayHost,
  nginxConfig,
} from "./ingest-gateway";
import { LOKI_HTTP_PORT, lokiValues } from "./loki-values";
import { pushGatewayObjects } from "./push-gateway";
import { withResources } from "../../plan/workload-resources";
import { archiveBucketPolicy, type ArchiveWriter } from "../../plan/bucket-policy";
import {
  readBackProblems,
  type ArchiveBucketSpec,
  type ArchiveReadBack,
  type LockMode,
  type ObjectLockState,
} from "../../plan/object-lock";

export * from "./collector-values";
export * from "./loki-values";
export * from "./ingest-gateway";
export { policyDenials, policyGrants, policyProblems, readBackProblems } from "../../plan/object-lock";
export type { ArchiveBucketSpec, ArchiveReadBack, LockMode, ObjectLockState, PrincipalActions, S3Credentials } from "../../plan/object-lock";

export interface ChartRef {
  repository: string;
  version: string;
}

export interface ArchiveCredentials {
  /** Both halves are Pulumi secrets. */
  accessKeyId: pulumi.Input<string>;
  secretAccessKey: pulumi.Input<string>;
}

export interface AuditArchiveBucketArgs {
  endpoint: string;
  bucket: string;
  region: string;
  /** Always COMPLIANCE in this program; a parameter only so the guard below has something to check. */
  mode: LockMode;
  lockDays: number;
  /** Days Loki keeps the same events; the lock may never be shorter. */
  retentionDays: number;
  /** The bucket owner's credential (the deploy identity's project): creates and configures, never handed to a collector. */
  credentials: ArchiveCredentials;
  /** One Keystone project per cluster; the bucket policy lets each put under `<cluster>/` only. */
  writers: ArchiveWriter[];
  /** Every other environment's projects (openstack-projects.yaml); the same bucket policy denies them everything. */
  foreignProjectIds: string[];
}

/**
 * Run with the Node that runs the program; no devDependency (tsx, esbuild)
 * is needed at deploy time, and the script imports no component
 * (scripts/audit-archive-bucket.cjs, scripts/object-lock-bucket.ts).
 */
export const ARCHIVE_RECONCILE_COMMAND = "node scripts/audit-archive-bucket.cjs reconcile";
export const ARCHIVE_VERIFY_COMMAND = "node scripts/audit-archive-bucket.cjs verify";

/** The stack output: what RGW answered, or why nothing was read. */
export type ArchiveReadBackReport =
  | { readBack: "verified"; bucket: string; objectLock: ObjectLockState; owner: string; grants: ArchiveReadBack["grants"]; denials: ArchiveReadBack["denials"]; expireDays?: number }
  | { readBack: "not read"; reason: string };

/**
 * Parses the verify command's stdout and judges it again here, so a
 * weakened bucket fails the preview or update even if the script's own
 * check were bypassed. No stdout means no command ran (offline synth).
 */
export function readBackReport(spec: ArchiveBucketSpec, stdout: string | undefined): ArchiveReadBackReport {
  if (stdout === undefined) return { readBack: "not read", reason: "no S3 call was made (offline synth)" };
  let parsed: ArchiveReadBack;
  try {
    parsed = JSON.parse(stdout.trim().split("\n").pop() ?? "") as ArchiveReadBack;
  } catch {
    throw new Error(`object-lock bucket ${spec.bucket}: the verify command printed no read-back: ${stdout.slice(0, 200)}`);
  }
  const problems = readBackProblems(spec, parsed);
  if (problems.length > 0) throw new Error(`object-lock bucket ${spec.bucket} is not append-only: ${problems.join("; ")}`);
  return {
    readBack: "verified", bucket: parsed.bucket, objectLock: parsed.objectLock, owner: parsed.owner, grants: parsed.grants, denials: parsed.denials,
    ...(parsed.expireDays !== undefined ? { expireDays: parsed.expireDays } : {}),
  };
}

/** What an append-only bucket is made of; the audit archive and the etcd backup buckets alike. */
export interface ObjectLockBucketArgs {
  endpoint: string;
  bucket: string;
  region: string;
  mode: LockMode;
  lockDays: number;
  /** The bucket owner's credential (the deploy identity's project): creates and configures, never handed to a writer. */
  credentials: ArchiveCredentials;
  /** One Keystone project per cluster; the bucket policy lets each put under `<cluster>/` only. */
  writers: ArchiveWriter[];
  /** Every other environment's projects; the same bucket policy denies them everything. */
  foreignProjectIds: string[];
  /** Objects expire this many days after they are written, never before their lock ends (the backup buckets). */
  expireDays?: number;
}

/**
 * The reconcile command (on `up`, when the settings change) and the verify
 * invoke (every preview and up) of one append-only bucket, both running
 * scripts/audit-archive-bucket.cjs with the bucket's policy from
 * archiveBucketPolicy(). Shared by AuditArchiveBucket and the etcd backups'
 * EtcdBackupBucket, so both kinds of bucket are made and checked one way.
 */
export function objectLockBucket(name: string, args: ObjectLockBucketArgs, parent: pulumi.Resource): { reconcile: command.local.Command; readBack: pulumi.Output<ArchiveReadBackReport> } {
  if (args.mode !== "COMPLIANCE") throw new Error(`object-lock bucket ${args.bucket}: object lock must be COMPLIANCE, not ${args.mode}`);
  if (args.expireDays !== undefined && args.expireDays < args.lockDays) {
    throw new Error(`object-lock bucket ${args.bucket}: objects would expire after ${args.expireDays} days, before their ${args.lockDays}-day lock ends`);
  }
  // Throws on a shared, malformed or foreign writer before anything is registered.
  const bucketPolicy = JSON.stringify(archiveBucketPolicy(args.bucket, args.writers, args.foreignProjectIds));
  const spec: ArchiveBucketSpec = {
    endpoint: args.endpoint, bucket: args.bucket, region: args.region, mode: args.mode, days: args.lockDays,
    writers: args.writers, foreignProjectIds: args.foreignProjectIds, policy: bucketPolicy,
    ...(args.expireDays !== undefined ? { expireDays: args.expireDays } : {}),
  };
  const environment = {
    ARCHIVE_ENDPOINT: args.endpoint,
    ARCHIVE_BUCKET: args.bucket,
    ARCHIVE_REGION: args.region,
    ARCHIVE_LOCK_MODE: args.mode,
    ARCHIVE_LOCK_DAYS: String(args.lockDays),
    ARCHIVE_WRITERS: JSON.stringify(args.writers),
    ARCHIVE_FOREIGN_PROJECTS: JSON.stringify(args.foreignProjectIds),
    // The one document the reconciler sets and the policies judge.
    ARCHIVE_BUCKET_POLICY: bucketPolicy,
    ...(args.expireDays !== undefined ? { ARCHIVE_EXPIRE_DAYS: String(args.expireDays) } : {}),
    ARCHIVE_ACCESS_KEY_ID: pulumi.secret(args.credentials.accessKeyId),
    ARCHIVE_SECRET_ACCESS_KEY: pulumi.secret(args.credentials.secretAccessKey),
  };
  const reconcile = new command.local.Command(`${name}-object-lock-bucket`, {
    create: ARCHIVE_RECONCILE_COMMAND,
    // A changed lock period or writer re-runs the same idempotent reconcile; it refuses to shorten.
    update: ARCHIVE_RECONCILE_COMMAND,
    environment,
    // Plain copies of the non-secret settings (the environment as a whole is a secret in state), policy included for review.
    triggers: [args.endpoint, args.bucket, args.mode, args.lockDays, bucketPolicy, ...(args.expireDays !== undefined ? [args.expireDays] : [])],
  }, { parent, retainOnDelete: true });

  // An invoke, not a resource: it runs on every preview and up, drift check included, and changes nothing.
  const verified = command.local.runOutput({
    command: ARCHIVE_VERIFY_COMMAND,
    environment,
    addPreviousOutputInEnv: false,
  }, { parent, dependsOn: [reconcile] });
  return { reconcile, readBack: pulumi.unsecret(verified.apply((result) => readBackReport(spec, (result as { stdout?: string }).stdout))) };
}

/**
 * The append-only archive: an S3 bucket created with object lock and a
 * default retention in COMPLIANCE mode, so no one (root included) can delete
 * or overwrite an archived audit object before the lock expires, and a
 * bucket policy that lets each cluster's writer put under its own prefix and
 * nothing else. Reconciled on `up` when its settings change; read back and
 * verified on every preview and up. Deleting this resource leaves the
 * bucket, which cannot be emptied before its objects' locks expire anyway.
 */
export class AuditArchiveBucket extends pulumi.ComponentResource {
  readonly reconcile: command.local.Command;
  /** What RGW reports on this run: lock mode and days, owner, writers' grants. */
  readonly readBack: pulumi.Output<ArchiveReadBackReport>;

  constructor(name: string, args: AuditArchiveBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:audit:AuditArchiveBucket", name, {}, opts);
    if (args.mode !== "COMPLIANCE") throw new Error(`audit archive ${args.bucket}: object lock must be COMPLIANCE, not ${args.mode}`);
    if (args.lockDays < args.retentionDays) {
      throw new Error(`audit archive ${args.bucket}: lock period ${args.lockDays}d is shorter than the retention of ${args.retentionDays}d`);
    }
    const { retentionDays: _loki, ...bucket } = args;
    ({ reconcile: this.reconcile, readBack: this.readBack } = objectLockBucket(name, bucket, this));
    this.registerOutputs({ readBack: this.readBack });
  }
}

export interface AuditLogStoreArgs {
  chart: ChartRef;
  namespace: string;
  retentionDays: number;
  storageSize: string;
  /**
   * Fixed NodePort on the ops nodes where the other clusters' collectors push.
   * Reachable only inside the environment's network (security groups).
   */
  ingestNodePort: number;
  /** One per collector; the gateway admits a push only with one of these (secrets). */
  pushCredentials: { user: string; password: pulumi.Input<string> }[];
  /** The gateway's server certificate (signed by the ingest CA the collectors trust) and its key (a secret). */
  tls: { certPem: pulumi.Input<string>; keyPem: pulumi.Input<string> };
  /** Namespace of the only in-cluster reader (Grafana); everything else reaches Loki through the gateway or not at all. */
  queryNamespace: string;
  /** Retention of the platform-logs tenant (the central view); audit keeps retentionDays. */
  platformLogRetentionDays?: number;
  /** The central view's gateway, which pushes platform logs (its own tenant) to Loki. */
  platformGateway?: { namespace: string; labels: Readonly<Record<string, string>> };
  provider: k8s.Provider;
}

const LOKI_POD_LABELS = {
  "app.kubernetes.io/name": "loki",
  "app.kubernetes.io/instance": "loki",
  "app.kubernetes.io/component": "single-binary",
} as const;

/** Loki in the ops cluster: the 30-day, queryable copy of every cluster's audit log. */
export class AuditLogStore extends pulumi.ComponentResource {
  readonly release: k8s.helm.v3.Release;
  /** In-cluster URL for queries (Grafana only; a NetworkPolicy keeps other pods out). */
  readonly url: string;
  /** In-cluster URL of the authenticating gateway, for the ops cluster's own collector. */
  readonly pushUrl: string;

  constructor(name: string, args: AuditLogStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:audit:AuditLogStore", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, {
      metadata: { name: args.namespace, labels: { "app.kubernetes.io/managed-by": "ske-platform" } },
    }, child);

    this.release = new k8s.helm.v3.Release(`${name}-loki`, {
      name: "loki",
      chart: "loki",
      version: args.chart.version,
      repositoryOpts: { repo: args.chart.repository },
      namespace: args.namespace,
      values: withResources("loki", lokiValues({
        retentionDays: args.retentionDays,
        storageSize: args.storageSize,
        ...(args.platformLogRetentionDays !== undefined ? { platformLogRetentionDays: args.platformLogRetentionDays } : {}),
      })),
      atomic: true,
    }, { ...child, dependsOn: [namespace] });
    this.url = `http://loki.${args.namespace}.svc.cluster.local:${LOKI_HTTP_PORT}`;

    // The push door: nginx with one credential per collector, push path only.
    const config = nginxConfig(this.url);
    pushGatewayObjects(name, {
      gatewayName: INGEST_GATEWAY_NAME,
      namespace: args.namespace,
      nginxConf: config,
      pushCredentials: args.pushCredentials,
      tls: args.tls,
      labels: INGEST_GATEWAY_LABELS,
      nodePortService: { name: "loki-audit-ingest", nodePort: args.ingestNodePort },
    }, child, namespace);
    this.pushUrl = `https://${ingestGatewayHost(args.namespace)}:${INGEST_GATEWAY_PORT}`;

    // Loki's HTTP API (queries, tail, push) only for the gateway and Grafana; Loki may talk to itself.
    new k8s.networking.v1.NetworkPolicy(`${name}-loki-ingress`, {
      metadata: { name: "loki-ingress", namespace: args.namespace },
      spec: {
        podSelector: { matchLabels: { ...LOKI_POD_LABELS } },
        policyTypes: ["Ingress"],
        ingress: [
          {
            from: [
              { podSelector: { matchLabels: { ...INGEST_GATEWAY_LABELS } } },
              ...(args.platformGateway
                ? [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": args.platformGateway.namespace } }, podSelector: { matchLabels: { ...args.platformGateway.labels } } }]
                : []),
              {
                namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": args.queryNamespace } },
                podSelector: { matchLabels: { "app.kubernetes.io/name": "grafana" } },
              },
            ],
            ports: [{ protocol: "TCP", port: LOKI_HTTP_PORT }],
          },
          { from: [{ podSelector: { matchLabels: { ...LOKI_POD_LABELS } } }] },
        ],
      },
    }, { ...child, dependsOn: [namespace] });
    this.registerOutputs({});
  }
}

export interface AuditCollectorArgs {
  chart: ChartRef;
  namespace: string;
  cluster: CollectedCluster;
  lokiUrl: pulumi.Input<string>;
  /** This collector's credential at the ingest gateway (the password is a secret), and the CA that signed the gateway's certificate. */
  lokiPush: { user: string; password: pulumi.Input<string>; caPem: pulumi.Input<string> };
  archive: {
    endpoint: string;
    bucket: string;
    region: string;
    /** The cluster's writer credential: put under its own prefix only. */
    credentials: ArchiveCredentials;
    /** Named on the Secret, so reviewers and the policy can tell which identity the collector holds. */
    writer: { projectId: string; credentialResource: string };
  };
  siem?: SiemSink;
  /** The SIEM's token when siem.auth is set; goes into the collector's Secret only. */
  siemToken?: pulumi.Input<string>;
  provider: k8s.Provider;
}

function siemTokenOf(args: AuditCollectorArgs): pulumi.Input<string> {
  if (args.siemToken === undefined) throw new Error(`audit collector of ${args.cluster.name}: audit.siem.auth is set but no siemToken was handed over`);
  return args.siemToken;
}

export const ARCHIVE_WRITER_ANNOTATIONS = {
  project: "ske-platform/archive-writer-project",
  credential: "ske-platform/archive-writer-credential",
} as const;

/** The apiserver audit log shipper of one cluster. */
export class AuditCollector extends pulumi.ComponentResource {
  readonly release: k8s.helm.v3.Release;

  constructor(name: string, args: AuditCollectorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:audit:AuditCollector", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, {
      metadata: {
        name: args.namespace,
        // Privileged only because baseline forbids any hostPath; see COLLECTOR_POD_SECURITY.
        labels: { "app.kubernetes.io/managed-by": "ske-platform", ...COLLECTOR_POD_SECURITY },
      },
    }, child);

    const credentialsSecret = "audit-archive-credentials";
    const credentials = new k8s.core.v1.Secret(`${name}-archive-credentials`, {
      metadata: {
        name: credentialsSecret,
        namespace: args.namespace,
        annotations: {
          [ARCHIVE_WRITER_ANNOTATIONS.project]: args.archive.writer.projectId,
          [ARCHIVE_WRITER_ANNOTATIONS.credential]: args.archive.writer.credentialResource,
        },
      },
      type: "Opaque",
      stringData: {
        [ARCHIVE_SECRET_KEYS.accessKeyId]: pulumi.secret(args.archive.credentials.accessKeyId),
        [ARCHIVE_SECRET_KEYS.secretAccessKey]: pulumi.secret(args.archive.credentials.secretAccessKey),
        ...(args.siem?.auth ? { [SIEM_TOKEN_SECRET_KEY]: pulumi.secret(siemTokenOf(args)) } : {}),
      },
    }, { ...child, dependsOn: [namespace] });

    const pushSecret = new k8s.core.v1.Secret(`${name}-loki-push-credentials`, {
      metadata: { name: LOKI_PUSH_SECRET, namespace: args.namespace },
      type: "Opaque",
      stringData: { [LOKI_PUSH_SECRET_KEY]: pulumi.secret(args.lokiPush.password) },
    }, { ...child, dependsOn: [namespace] });

    const ingestCa = new k8s.core.v1.ConfigMap(`${name}-ingest-ca`, {
      metadata: { name: INGEST_CA_CONFIGMAP, namespace: args.namespace },
      data: { [INGEST_CA_KEY]: args.lokiPush.caPem },
    }, { ...child, dependsOn: [namespace] });

    this.release = new k8s.helm.v3.Release(`${name}-vector`, {
      name: "audit-collector",
      chart: "vector",
      version: args.chart.version,
      repositoryOpts: { repo: args.chart.repository },
      namespace: args.namespace,
      values: pulumi.output(args.lokiUrl).apply((lokiUrl) =>
        collectorValues({
          cluster: args.cluster,
          lokiUrl,
          archive: { endpoint: args.archive.endpoint, bucket: args.archive.bucket, region: args.archive.region },
          ...(args.siem ? { siem: args.siem } : {}),
          credentialsSecret,
          lokiPushUser: args.lokiPush.user,
          lokiCa: { configMap: INGEST_CA_CONFIGMAP, dir: INGEST_CA_DIR, key: INGEST_CA_KEY },
        }),
      ),
      atomic: true,
    }, { ...child, dependsOn: [namespace, credentials, pushSecret, ingestCa] });

    new k8s.networking.v1.NetworkPolicy(`${name}-network`, {
      metadata: { name: "audit-collector", namespace: args.namespace },
      spec: pulumi.output(args.lokiUrl).apply((lokiUrl) => collectorNetworkPolicySpec({
        lokiUrl,
        archiveEndpoint: args.archive.endpoint,
        ...(args.siem ? { siemEndpoint: args.siem.endpoint } : {}),
      })),
    }, { ...child, dependsOn: [namespace] });
    this.registerOutputs({});
  }
}
