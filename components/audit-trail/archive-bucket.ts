/**
 * The object-lock archive bucket: RGW has no Pulumi resource for object lock
 * and bucket policy together, so a command reconciles it on `up` and reads it
 * back on every run (scripts/object-lock-bucket.ts does the S3 calls; the
 * checks are pure, in plan/object-lock.ts).
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { archiveBucketPolicy, type ArchiveWriter } from "../../plan/bucket-policy";
import {
  readBackProblems,
  type ArchiveBucketSpec,
  type ArchiveReadBack,
  type LockMode,
  type ObjectLockState,
} from "../../plan/object-lock";

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
  | {
      readBack: "verified";
      bucket: string;
      objectLock: ObjectLockState;
      owner: string;
      grants: ArchiveReadBack["grants"];
      denials: ArchiveReadBack["denials"];
      expireDays?: number;
    }
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
    throw new Error(
      `object-lock bucket ${spec.bucket}: the verify command printed no read-back: ${stdout.slice(0, 200)}`,
    );
  }
  const problems = readBackProblems(spec, parsed);
  if (problems.length > 0)
    throw new Error(`object-lock bucket ${spec.bucket} is not append-only: ${problems.join("; ")}`);
  return {
    readBack: "verified",
    bucket: parsed.bucket,
    objectLock: parsed.objectLock,
    owner: parsed.owner,
    grants: parsed.grants,
    denials: parsed.denials,
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
export function objectLockBucket(
  name: string,
  args: ObjectLockBucketArgs,
  parent: pulumi.Resource,
): { reconcile: command.local.Command; readBack: pulumi.Output<ArchiveReadBackReport> } {
  if (args.mode !== "COMPLIANCE")
    throw new Error(`object-lock bucket ${args.bucket}: object lock must be COMPLIANCE, not ${args.mode}`);
  if (args.expireDays !== undefined && args.expireDays < args.lockDays) {
    throw new Error(
      `object-lock bucket ${args.bucket}: objects would expire after ${args.expireDays} days, before their ${args.lockDays}-day lock ends`,
    );
  }
  // Throws on a shared, malformed or foreign writer before anything is registered.
  const bucketPolicy = JSON.stringify(archiveBucketPolicy(args.bucket, args.writers, args.foreignProjectIds));
  const spec: ArchiveBucketSpec = {
    endpoint: args.endpoint,
    bucket: args.bucket,
    region: args.region,
    mode: args.mode,
    days: args.lockDays,
    writers: args.writers,
    foreignProjectIds: args.foreignProjectIds,
    policy: bucketPolicy,
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
  const reconcile = new command.local.Command(
    `${name}-object-lock-bucket`,
    {
      create: ARCHIVE_RECONCILE_COMMAND,
      // A changed lock period or writer re-runs the same idempotent reconcile; it refuses to shorten.
      update: ARCHIVE_RECONCILE_COMMAND,
      environment,
      // Plain copies of the non-secret settings (the environment as a whole is a secret in state), policy included for review.
      triggers: [
        args.endpoint,
        args.bucket,
        args.mode,
        args.lockDays,
        bucketPolicy,
        ...(args.expireDays !== undefined ? [args.expireDays] : []),
      ],
    },
    { parent, retainOnDelete: true },
  );

  // An invoke, not a resource: it runs on every preview and up, drift check included, and changes nothing.
  const verified = command.local.runOutput(
    {
      command: ARCHIVE_VERIFY_COMMAND,
      environment,
      addPreviousOutputInEnv: false,
    },
    { parent, dependsOn: [reconcile] },
  );
  return {
    reconcile,
    readBack: pulumi.unsecret(verified.apply((result) => readBackReport(spec, (result as { stdout?: string }).stdout))),
  };
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
    if (args.mode !== "COMPLIANCE")
      throw new Error(`audit archive ${args.bucket}: object lock must be COMPLIANCE, not ${args.mode}`);
    if (args.lockDays < args.retentionDays) {
      throw new Error(
        `audit archive ${args.bucket}: lock period ${args.lockDays}d is shorter than the retention of ${args.retentionDays}d`,
      );
    }
    const { retentionDays: _loki, ...bucket } = args;
    ({ reconcile: this.reconcile, readBack: this.readBack } = objectLockBucket(name, bucket, this));
    this.registerOutputs({ readBack: this.readBack });
  }
}
