/**
 * The append-only buckets in Ceph RGW (the audit archive and the etcd backup
 * buckets), spoken through the AWS SDK's S3 client: create one with object
 * lock, set the default retention, the bucket policy that lets each
 * cluster's writer identity put objects under its own prefix and nothing
 * else and, for the backups, the lifecycle expiry, and read all of it back.
 *
 * Why not a Pulumi S3 provider: recent AWS providers (terraform-provider-aws
 * ≥ 6.23, so current @pulumi/aws) read bucket tags through the S3 Control
 * API, which RGW does not implement, and bucket creation fails; older ones
 * trip over RGW's tag-set errors. @pulumi/minio can create a locked bucket
 * but has no resource for the default retention. Pulumi's dynamic providers
 * serialise closures at runtime, which breaks under the test runner's module
 * transform. So `scripts/audit-archive-bucket.cjs` runs this module, never the component
 * that declares the command: from a
 * `command` resource on `up` (reconcile) and from an invoke on every preview
 * and up (verify), which is what the nightly drift check runs.
 *
 * This file is loaded by plain Node (type stripping) from that script, so it
 * imports only packages, node: builtins and pure plan/ modules (found by the
 * script's `.ts` resolve hook), and uses no TypeScript syntax that needs
 * emitting. What the bucket must look like is plan/object-lock.ts.
 */
import { createHash } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import { writerProblems, type ArchiveWriter } from "../plan/bucket-policy";
import {
  LIFECYCLE_RULE_ID,
  policyGrants,
  policyDenials,
  policyProblems,
  readBackProblems,
  type ArchiveBucketSpec,
  type S3Credentials,
  type ObjectLockState,
  type ArchiveReadBack,
} from "../plan/object-lock";

/**
 * The SDK is loaded on first use: loading the S3 client costs about half a
 * second, which a failing environment check should not wait for.
 */
const sdk = () => import("@aws-sdk/client-s3");

/**
 * The client for RGW: path-style, and checksums only where the API demands
 * them (the SDK's newer default CRC headers are not understood by every RGW
 * release); Content-MD5 on every body, which RGW requires for the lock
 * configuration.
 */
export async function archiveClient(
  spec: Pick<ArchiveBucketSpec, "endpoint" | "region">,
  credentials: S3Credentials,
): Promise<S3Client> {
  const { S3Client } = await sdk();
  const client = new S3Client({
    endpoint: spec.endpoint,
    region: spec.region,
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 3,
  });
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      if (request.headers && typeof request.body === "string" && request.body.length > 0) {
        request.headers["content-md5"] = createHash("md5").update(request.body, "utf8").digest("base64");
      }
      return next(args);
    },
    { step: "build", name: "rgwContentMd5" },
  );
  return client;
}

const statusOf = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
const nameOf = (err: unknown) => (err as { name?: string }).name ?? "";

function failure(spec: Pick<ArchiveBucketSpec, "bucket" | "endpoint">, call: string, err: unknown): Error {
  const status = statusOf(err);
  return new Error(
    `${call} of bucket "${spec.bucket}" at ${spec.endpoint} failed${status ? ` with HTTP ${status}` : ""}: ${nameOf(err)} ${(err as Error).message ?? ""}`.trim(),
  );
}

async function readLock(client: S3Client, spec: ArchiveBucketSpec): Promise<ObjectLockState> {
  const { GetObjectLockConfigurationCommand } = await sdk();
  try {
    const out = await client.send(new GetObjectLockConfigurationCommand({ Bucket: spec.bucket }));
    const rule = out.ObjectLockConfiguration?.Rule?.DefaultRetention;
    const mode = rule?.Mode;
    return {
      enabled: out.ObjectLockConfiguration?.ObjectLockEnabled === "Enabled",
      ...(mode === "COMPLIANCE" || mode === "GOVERNANCE" ? { mode } : {}),
      ...(rule?.Days !== undefined ? { days: rule.Days } : {}),
    };
  } catch (err) {
    if (nameOf(err) === "ObjectLockConfigurationNotFoundError") return { enabled: false };
    throw failure(spec, "GetObjectLockConfiguration", err);
  }
}

async function readPolicy(client: S3Client, spec: ArchiveBucketSpec): Promise<string | undefined> {
  const { GetBucketPolicyCommand } = await sdk();
  try {
    return (await client.send(new GetBucketPolicyCommand({ Bucket: spec.bucket }))).Policy;
  } catch (err) {
    if (nameOf(err) === "NoSuchBucketPolicy" || statusOf(err) === 404) return undefined;
    throw failure(spec, "GetBucketPolicy", err);
  }
}

/**
 * The fewest days after which any enabled lifecycle rule expires current
 * objects, whatever its id: a rule someone else added counts as much as ours.
 */
async function readExpiry(client: S3Client, spec: ArchiveBucketSpec): Promise<number | undefined> {
  const { GetBucketLifecycleConfigurationCommand } = await sdk();
  try {
    const rules = (await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: spec.bucket }))).Rules ?? [];
    const days = rules
      .filter((r) => r.Status === "Enabled" && r.Expiration?.Days !== undefined)
      .map((r) => r.Expiration!.Days!);
    return days.length > 0 ? Math.min(...days) : undefined;
  } catch (err) {
    if (nameOf(err) === "NoSuchLifecycleConfiguration" || statusOf(err) === 404) return undefined;
    throw failure(spec, "GetBucketLifecycleConfiguration", err);
  }
}

/**
 * In an object-lock (hence versioned) bucket, `Expiration` only puts a
 * delete marker on top; the locked version becomes noncurrent and
 * `NoncurrentVersionExpiration` removes it a day later. RGW's lifecycle never
 * removes a version whose lock still holds, and `expireDays` is never shorter
 * than the lock, so this rule cannot cut the retention short.
 */
async function putExpiry(client: S3Client, spec: ArchiveBucketSpec, days: number): Promise<void> {
  const { PutBucketLifecycleConfigurationCommand } = await sdk();
  try {
    await client.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: spec.bucket,
        LifecycleConfiguration: {
          Rules: [
            {
              ID: LIFECYCLE_RULE_ID,
              Filter: { Prefix: "" },
              Status: "Enabled",
              Expiration: { Days: days },
              NoncurrentVersionExpiration: { NoncurrentDays: 1 },
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            },
          ],
        },
      }),
    );
  } catch (err) {
    throw failure(spec, "PutBucketLifecycleConfiguration", err);
  }
}

export async function readBackArchive(
  client: S3Client,
  spec: ArchiveBucketSpec,
): Promise<{ readBack: ArchiveReadBack; policyJson: string | undefined }> {
  const { GetBucketAclCommand } = await sdk();
  const objectLock = await readLock(client, spec);
  const policyJson = await readPolicy(client, spec);
  const expireDays = await readExpiry(client, spec);
  let owner: string;
  try {
    owner = (await client.send(new GetBucketAclCommand({ Bucket: spec.bucket }))).Owner?.ID ?? "";
  } catch (err) {
    throw failure(spec, "GetBucketAcl", err);
  }
  return {
    readBack: {
      bucket: spec.bucket,
      objectLock,
      owner,
      grants: policyGrants(policyJson),
      denials: policyDenials(policyJson),
      ...(expireDays !== undefined ? { expireDays } : {}),
    },
    policyJson,
  };
}

/** Reads the archive back and refuses anything weaker than the spec. Read-only: safe on preview. */
export async function verifyArchiveBucket(client: S3Client, spec: ArchiveBucketSpec): Promise<ArchiveReadBack> {
  const { readBack } = await readBackArchive(client, spec);
  const problems = readBackProblems(spec, readBack);
  if (problems.length > 0)
    throw new Error(`audit archive "${spec.bucket}" at ${spec.endpoint} is not append-only: ${problems.join("; ")}`);
  return readBack;
}

/**
 * Makes the bucket exist with object lock, the wanted default retention,
 * the writers' policy and (when asked) the expiry, idempotently, then
 * verifies. Refuses what would weaken the bucket: no object lock, leaving
 * COMPLIANCE, a shorter lock period, expiry before the lock ends.
 */
export async function ensureArchiveBucket(
  client: S3Client,
  spec: ArchiveBucketSpec,
): Promise<{ created: boolean; readBack: ArchiveReadBack }> {
  if (spec.mode !== "COMPLIANCE")
    throw new Error(`bucket "${spec.bucket}": the archive is locked in COMPLIANCE mode, not ${spec.mode}`);
  if (!Number.isInteger(spec.days) || spec.days < 1)
    throw new Error(`object-lock days must be a positive integer, got ${spec.days}`);
  if (spec.expireDays !== undefined && (!Number.isInteger(spec.expireDays) || spec.expireDays < spec.days)) {
    throw new Error(
      `bucket "${spec.bucket}": objects would expire after ${spec.expireDays} days, before their ${spec.days}-day lock ends`,
    );
  }
  const writers = writerProblems(spec.writers);
  if (writers.length > 0) throw new Error(`archive writers of ${spec.bucket}: ${writers.join("; ")}`);
  // Refuse to set a document weaker than the spec, rather than set it and fail the read-back.
  const weak = policyProblems(spec, policyGrants(spec.policy), policyDenials(spec.policy));
  if (weak.length > 0)
    throw new Error(
      `bucket "${spec.bucket}": refusing to set a bucket policy that is not append-only: ${weak.join("; ")}`,
    );
  const policy = spec.policy;
  const { CreateBucketCommand, HeadBucketCommand, PutBucketPolicyCommand, PutObjectLockConfigurationCommand } =
    await sdk();

  let created = false;
  try {
    await client.send(new HeadBucketCommand({ Bucket: spec.bucket }));
  } catch (err) {
    if (statusOf(err) !== 404) throw failure(spec, "HeadBucket", err);
    try {
      await client.send(new CreateBucketCommand({ Bucket: spec.bucket, ObjectLockEnabledForBucket: true }));
    } catch (createErr) {
      throw failure(spec, "CreateBucket", createErr);
    }
    created = true;
  }

  const before = await readLock(client, spec);
  if (!before.enabled) {
    throw new Error(
      `bucket "${spec.bucket}" exists without object lock; an append-only archive needs a new bucket created with it`,
    );
  }
  if (before.days !== undefined && before.days > spec.days) {
    throw new Error(
      `bucket "${spec.bucket}" locks objects for ${before.days} days; refusing to shorten that to ${spec.days}`,
    );
  }
  if (before.mode !== spec.mode || before.days !== spec.days) {
    try {
      await client.send(
        new PutObjectLockConfigurationCommand({
          Bucket: spec.bucket,
          ObjectLockConfiguration: {
            ObjectLockEnabled: "Enabled",
            Rule: { DefaultRetention: { Mode: spec.mode, Days: spec.days } },
          },
        }),
      );
    } catch (err) {
      throw failure(spec, "PutObjectLockConfiguration", err);
    }
  }
  if ((await readPolicy(client, spec)) !== policy) {
    try {
      await client.send(new PutBucketPolicyCommand({ Bucket: spec.bucket, Policy: policy }));
    } catch (err) {
      throw failure(spec, "PutBucketPolicy", err);
    }
  }
  if (spec.expireDays !== undefined && (await readExpiry(client, spec)) !== spec.expireDays)
    await putExpiry(client, spec, spec.expireDays);
  return { created, readBack: await verifyArchiveBucket(client, spec) };
}

/** The settings the command resource and the invoke hand over in the environment. */
export function specFromEnvironment(env: Record<string, string | undefined>): {
  spec: ArchiveBucketSpec;
  credentials: S3Credentials;
} {
  const required = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set`);
    return value;
  };
  const mode = required("ARCHIVE_LOCK_MODE");
  if (mode !== "COMPLIANCE" && mode !== "GOVERNANCE")
    throw new Error(`ARCHIVE_LOCK_MODE must be COMPLIANCE or GOVERNANCE, got ${mode}`);
  const writers = JSON.parse(required("ARCHIVE_WRITERS")) as ArchiveWriter[];
  const foreignProjectIds = JSON.parse(required("ARCHIVE_FOREIGN_PROJECTS")) as string[];
  return {
    spec: {
      endpoint: required("ARCHIVE_ENDPOINT"),
      bucket: required("ARCHIVE_BUCKET"),
      region: required("ARCHIVE_REGION"),
      mode,
      days: Number(required("ARCHIVE_LOCK_DAYS")),
      writers,
      foreignProjectIds,
      policy: required("ARCHIVE_BUCKET_POLICY"),
      ...(env.ARCHIVE_EXPIRE_DAYS ? { expireDays: Number(env.ARCHIVE_EXPIRE_DAYS) } : {}),
    },
    credentials: {
      accessKeyId: required("ARCHIVE_ACCESS_KEY_ID"),
      secretAccessKey: required("ARCHIVE_SECRET_ACCESS_KEY"),
    },
  };
}

/** `reconcile` (on up) or `verify` (every preview and up); prints the read-back as one JSON line, never a credential. */
export async function runArchiveCommand(
  action: string | undefined,
  env: Record<string, string | undefined>,
): Promise<ArchiveReadBack> {
  const { spec, credentials } = specFromEnvironment(env);
  const client = await archiveClient(spec, credentials);
  try {
    if (action === "reconcile") return (await ensureArchiveBucket(client, spec)).readBack;
    if (action === "verify") return await verifyArchiveBucket(client, spec);
    throw new Error(`unknown action "${action ?? ""}": use reconcile or verify`);
  } finally {
    client.destroy();
  }
}
