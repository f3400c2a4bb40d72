/**
 * Creates or reconciles the append-only audit archive bucket. Run by the
 * program's `command` resource during `pulumi up` (never on preview); every
 * input comes from the environment that resource sets, credentials included,
 * and nothing secret is ever printed.
 *
 *   ARCHIVE_ENDPOINT ARCHIVE_BUCKET ARCHIVE_REGION ARCHIVE_LOCK_MODE ARCHIVE_LOCK_DAYS
 *   ARCHIVE_ACCESS_KEY_ID ARCHIVE_SECRET_ACCESS_KEY [ARCHIVE_BUCKET_POLICY] [ARCHIVE_EXPIRE_DAYS]  npx tsx scripts/audit-archive-bucket.ts
 *
 * ARCHIVE_EXPIRE_DAYS (the etcd backup buckets only): objects expire that many
 * days after they are written, never before their lock ends.
 */
import { ensureBucketPolicy } from "../components/audit-trail/bucket-policy";
import { ensureObjectLockBucket, type LockMode, type Send } from "../components/audit-trail/object-lock";
import { ensureExpiry } from "../components/etcd-backup/lifecycle";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const send: Send = async (request) => {
  const response = await fetch(request.url, {
    method: request.method,
    headers: request.headers,
    ...(request.method === "PUT" ? { body: request.body } : {}),
  });
  return { status: response.status, body: request.method === "HEAD" ? "" : await response.text() };
};

async function main(): Promise<void> {
  const mode = required("ARCHIVE_LOCK_MODE");
  if (mode !== "COMPLIANCE" && mode !== "GOVERNANCE") throw new Error(`ARCHIVE_LOCK_MODE must be COMPLIANCE or GOVERNANCE, got ${mode}`);
  const days = Number(required("ARCHIVE_LOCK_DAYS"));
  const spec = {
    endpoint: required("ARCHIVE_ENDPOINT"),
    bucket: required("ARCHIVE_BUCKET"),
    region: required("ARCHIVE_REGION"),
    mode: mode as LockMode,
    days,
  };
  const result = await ensureObjectLockBucket(spec, {
    accessKeyId: required("ARCHIVE_ACCESS_KEY_ID"),
    secretAccessKey: required("ARCHIVE_SECRET_ACCESS_KEY"),
  }, send);
  console.log(`${spec.bucket}: ${result.created ? "created" : "exists"}; object lock ${result.state.mode} for ${result.state.days} days`);
  const policy = process.env.ARCHIVE_BUCKET_POLICY;
  if (policy) {
    const { changed } = await ensureBucketPolicy(spec, policy, {
      accessKeyId: required("ARCHIVE_ACCESS_KEY_ID"),
      secretAccessKey: required("ARCHIVE_SECRET_ACCESS_KEY"),
    }, send);
    console.log(`${spec.bucket}: bucket policy ${changed ? "set" : "unchanged"}, denying other environments' projects`);
  }
  const expireDays = process.env.ARCHIVE_EXPIRE_DAYS;
  if (expireDays) {
    const { changed } = await ensureExpiry(spec, Number(expireDays), {
      accessKeyId: required("ARCHIVE_ACCESS_KEY_ID"),
      secretAccessKey: required("ARCHIVE_SECRET_ACCESS_KEY"),
    }, send);
    console.log(`${spec.bucket}: objects expire ${expireDays} days after they are written (${changed ? "set" : "unchanged"})`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
