/**
 * Puts a bucket policy on the archive bucket and reads it back, in the same
 * plain SigV4 S3 as object-lock.ts (see there for why not a Pulumi S3
 * provider): GetBucketPolicy, PutBucketPolicy, nothing else.
 */
import { isDeepStrictEqual } from "node:util";
import { signRequest, type ArchiveBucketSpec, type S3Credentials, type S3Request, type S3Response, type Send } from "./object-lock";

/** Makes the bucket's policy equal `policy` (JSON), idempotently, and verifies it. */
export async function ensureBucketPolicy(
  spec: Pick<ArchiveBucketSpec, "endpoint" | "bucket" | "region">,
  policy: string,
  credentials: S3Credentials,
  send: Send,
  now: () => Date = () => new Date(),
): Promise<{ changed: boolean }> {
  const wanted = JSON.parse(policy) as unknown;
  const url = `${spec.endpoint.replace(/\/+$/, "")}/${encodeURIComponent(spec.bucket)}?policy`;
  const call = async (method: S3Request["method"], body = "", extra: Record<string, string> = {}) =>
    send({ method, url, headers: signRequest({ method, url, headers: extra, body }, credentials, spec.region, now()), body });
  const failure = (what: string, response: S3Response) =>
    new Error(`${what} of bucket "${spec.bucket}" at ${spec.endpoint} failed with HTTP ${response.status}: ${response.body.slice(0, 300)}`);
  const current = async (): Promise<unknown> => {
    const response = await call("GET");
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw failure("GetBucketPolicy", response);
    return JSON.parse(response.body) as unknown;
  };

  if (isDeepStrictEqual(await current(), wanted)) return { changed: false };
  const put = await call("PUT", policy, { "content-type": "application/json" });
  if (put.status !== 200 && put.status !== 204) throw failure("PutBucketPolicy", put);
  const after = await current();
  if (!isDeepStrictEqual(after, wanted)) {
    throw new Error(`bucket "${spec.bucket}" reports policy ${JSON.stringify(after)} after PutBucketPolicy; expected ${policy}`);
  }
  return { changed: true };
}
