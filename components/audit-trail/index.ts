import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ARCHIVE_SECRET_KEYS, COLLECTOR_POD_SECURITY, collectorNetworkPolicySpec, collectorValues, type CollectedCluster } from "./collector-values";
import { LOKI_HTTP_PORT, lokiValues } from "./loki-values";
import { withResources } from "../../plan/workload-resources";
import type { LockMode } from "./object-lock";

export * from "./collector-values";
export * from "./loki-values";
export { objectLockConfigurationXml, parseObjectLockConfiguration, ensureObjectLockBucket, signRequest } from "./object-lock";
export type { ArchiveBucketSpec, LockMode, S3Credentials } from "./object-lock";

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
  credentials: ArchiveCredentials;
}

/** The script that speaks S3 to the archive; see components/audit-trail/object-lock.ts for why. */
export const ARCHIVE_BUCKET_SCRIPT = "npx --no-install tsx scripts/audit-archive-bucket.ts";

/**
 * The append-only archive: an S3 bucket created with object lock and a
 * default retention in COMPLIANCE mode, so no one (root included) can delete
 * or overwrite an archived audit object before the lock expires. Runs on
 * `pulumi up` only; deleting this resource leaves the bucket, which cannot be
 * emptied before its objects' locks expire anyway.
 */
export class AuditArchiveBucket extends pulumi.ComponentResource {
  readonly reconcile: command.local.Command;

  constructor(name: string, args: AuditArchiveBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:audit:AuditArchiveBucket", name, {}, opts);
    if (args.mode !== "COMPLIANCE") throw new Error(`audit archive ${args.bucket}: object lock must be COMPLIANCE, not ${args.mode}`);
    if (args.lockDays < args.retentionDays) {
      throw new Error(`audit archive ${args.bucket}: lock period ${args.lockDays}d is shorter than the retention of ${args.retentionDays}d`);
    }
    const environment = {
      ARCHIVE_ENDPOINT: args.endpoint,
      ARCHIVE_BUCKET: args.bucket,
      ARCHIVE_REGION: args.region,
      ARCHIVE_LOCK_MODE: args.mode,
      ARCHIVE_LOCK_DAYS: String(args.lockDays),
      ARCHIVE_ACCESS_KEY_ID: pulumi.secret(args.credentials.accessKeyId),
      ARCHIVE_SECRET_ACCESS_KEY: pulumi.secret(args.credentials.secretAccessKey),
    };
    this.reconcile = new command.local.Command(`${name}-object-lock-bucket`, {
      create: ARCHIVE_BUCKET_SCRIPT,
      // A changed lock period re-runs the same idempotent script; it refuses to shorten.
      update: ARCHIVE_BUCKET_SCRIPT,
      environment,
      // Plain copies of the non-secret settings: the environment as a whole is a secret in state.
      triggers: [args.endpoint, args.bucket, args.mode, args.lockDays],
    }, { parent: this, retainOnDelete: true });
    this.registerOutputs({});
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
  provider: k8s.Provider;
}

/** Loki in the ops cluster: the 30-day, queryable copy of every cluster's audit log. */
export class AuditLogStore extends pulumi.ComponentResource {
  readonly release: k8s.helm.v3.Release;
  /** In-cluster URL for queries (Grafana) and pushes from the ops cluster's own collector. */
  readonly url: string;

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
      values: withResources("loki", lokiValues({ retentionDays: args.retentionDays, storageSize: args.storageSize })),
      atomic: true,
    }, { ...child, dependsOn: [namespace] });
    this.url = `http://loki.${args.namespace}.svc.cluster.local:${LOKI_HTTP_PORT}`;

    new k8s.core.v1.Service(`${name}-ingest`, {
      metadata: { name: "loki-audit-ingest", namespace: args.namespace },
      spec: {
        type: "NodePort",
        selector: {
          "app.kubernetes.io/name": "loki",
          "app.kubernetes.io/instance": "loki",
          "app.kubernetes.io/component": "single-binary",
        },
        ports: [{ name: "push", port: LOKI_HTTP_PORT, targetPort: LOKI_HTTP_PORT, nodePort: args.ingestNodePort, protocol: "TCP" }],
      },
    }, { ...child, dependsOn: [this.release] });
    this.registerOutputs({});
  }
}

export interface AuditCollectorArgs {
  chart: ChartRef;
  namespace: string;
  cluster: CollectedCluster;
  lokiUrl: pulumi.Input<string>;
  archive: { endpoint: string; bucket: string; region: string; credentials: ArchiveCredentials };
  siem?: { endpoint: string; format: "json" | "cef" };
  provider: k8s.Provider;
}

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
      metadata: { name: credentialsSecret, namespace: args.namespace },
      type: "Opaque",
      stringData: {
        [ARCHIVE_SECRET_KEYS.accessKeyId]: pulumi.secret(args.archive.credentials.accessKeyId),
        [ARCHIVE_SECRET_KEYS.secretAccessKey]: pulumi.secret(args.archive.credentials.secretAccessKey),
      },
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
        }),
      ),
      atomic: true,
    }, { ...child, dependsOn: [namespace, credentials] });

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
