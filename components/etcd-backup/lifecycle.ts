/**
 * The backup bucket's lifecycle rule: snapshots go away once their lock has
 * ended, in the same plain SigV4 S3 as the archive's reconciler
 * (components/audit-trail/object-lock.ts): Get/PutBucketLifecycleConfiguration.
 *
 * In an object-lock (hence versioned) bucket, `Expiration` after `days` only
 * puts a delete marker on top; the locked version becomes noncurrent and
 * `NoncurrentVersionExpiration` removes it a day later, when its lock has
 * ended. RGW's lifecycle never removes a version whose lock still holds, so
 * this rule cannot cut the retention short.
 */
import { createHash } from "node:crypto";
import { signRequest, type ArchiveBucketSpec, type S3Credentials, type S3Request, type S3Response, type Send } from "../audit-trail/object-lock";

export const LIFECYCLE_RULE_ID = "expire-etcd-snapshots-after-lock";

export function expiryLifecycleXml(days: number): string {
  if (!Number.isInteger(days) || days < 1) throw new Error(`expiry days must be a positive integer, got ${days}`);
  return (
    `<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<Rule><ID>${LIFECYCLE_RULE_ID}</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>` +
    `<Expiration><Days>${days}</Days></Expiration>` +
    `<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration>` +
    `<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>` +
    `</Rule></LifecycleConfiguration>`
  );
}

/** The expiry days of our rule in a lifecycle document; undefined when it is absent or disabled. */
export function parseExpiryDays(xml: string): number | undefined {
  const rule = new RegExp(`<Rule>(?:(?!</Rule>)[\\s\\S])*<ID>\\s*${LIFECYCLE_RULE_ID}\\s*</ID>(?:(?!</Rule>)[\\s\\S])*</Rule>`).exec(xml)?.[0];
  if (!rule || !/<Status>\s*Enabled\s*<\/Status>/.test(rule)) return undefined;
  const days = /<Expiration>\s*<Days>\s*(\d+)\s*<\/Days>/.exec(rule)?.[1];
  return days === undefined ? undefined : Number(days);
}

/**
 * Makes the bucket's lifecycle expire snapshots `days` after they are
 * written, idempotently, and verifies it. Refuses a rule that would expire
 * a snapshot before its lock ends.
 */
export async function ensureExpiry(
  spec: Pick<ArchiveBucketSpec, "endpoint" | "bucket" | "region" | "days">,
  days: number,
  credentials: S3Credentials,
  send: Send,
  now: () => Date = () => new Date(),
): Promise<{ changed: boolean }> {
  if (days < spec.days) throw new Error(`bucket "${spec.bucket}": snapshots would expire after ${days} days, before their ${spec.days}-day lock ends`);
  const url = `${spec.endpoint.replace(/\/+$/, "")}/${encodeURIComponent(spec.bucket)}?lifecycle`;
  const call = async (method: S3Request["method"], body = "", extra: Record<string, string> = {}) =>
    send({ method, url, headers: signRequest({ method, url, headers: extra, body }, credentials, spec.region, now()), body });
  const failure = (what: string, response: S3Response) =>
    new Error(`${what} of bucket "${spec.bucket}" at ${spec.endpoint} failed with HTTP ${response.status}: ${response.body.slice(0, 300)}`);
  const current = async () => {
    const response = await call("GET");
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw failure("GetBucketLifecycleConfiguration", response);
    return parseExpiryDays(response.body);
  };
  if ((await current()) === days) return { changed: false };
  const body = expiryLifecycleXml(days);
  const put = await call("PUT", body, { "content-md5": createHash("md5").update(body, "utf8").digest("base64"), "content-type": "application/xml" });
  if (put.status !== 200) throw failure("PutBucketLifecycleConfiguration", put);
  const after = await current();
  if (after !== days) throw new Error(`bucket "${spec.bucket}" reports expiry after ${String(after)} days after PutBucketLifecycleConfiguration; expected ${days}`);
  return { changed: true };
}
