/**
 * The append-only archive bucket, spoken in plain S3: SigV4-signed
 * CreateBucket (with object lock), Get/PutObjectLockConfiguration and
 * HeadBucket, nothing else.
 *
 * Why not a Pulumi S3 provider: the archive lives in Ceph RGW. Recent AWS
 * providers (terraform-provider-aws ≥ 6.23, so current @pulumi/aws) read
 * bucket tags through the S3 Control API, which RGW does not implement, and
 * bucket creation fails; older ones trip over RGW's tag-set errors and call
 * many more bucket APIs on every refresh. @pulumi/minio can create a locked
 * bucket but has no resource for the default retention. These four calls are
 * exactly what RGW implements and all the archive needs. Pulumi's dynamic
 * providers are out too: they serialise closures at runtime, which breaks
 * under the test runner's module transform, so the program runs this module
 * through `scripts/audit-archive-bucket.ts` from a `command` resource.
 */
import { createHash, createHmac } from "node:crypto";

export type LockMode = "COMPLIANCE" | "GOVERNANCE";

export interface ArchiveBucketSpec {
  /** e.g. `https://s3.osl2.example.net`; path-style addressing is used. */
  endpoint: string;
  bucket: string;
  /** Signing region; RGW accepts its zonegroup name. */
  region: string;
  mode: LockMode;
  days: number;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface S3Request {
  method: "GET" | "PUT" | "HEAD";
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface S3Response {
  status: number;
  body: string;
}

export type Send = (request: S3Request) => Promise<S3Response>;

const sha256Hex = (data: string) => createHash("sha256").update(data, "utf8").digest("hex");
const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

/** RFC 3986 encoding as SigV4 wants it (every byte but unreserved ones). */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalQuery(url: URL): string {
  return [...url.searchParams.entries()]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

/**
 * Signs a request with AWS Signature Version 4 for service `s3`. Pure given
 * `now`, so it is tested against a fixed example.
 */
export function signRequest(
  request: { method: string; url: string; headers: Record<string, string>; body: string },
  credentials: S3Credentials,
  region: string,
  now: Date,
): Record<string, string> {
  const url = new URL(request.url);
  const amzDate = now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const date = amzDate.slice(0, 8);
  const payloadHash = sha256Hex(request.body);
  const headers: Record<string, string> = {
    ...request.headers,
    host: url.host,
    "x-amz-date": amzDate,
    "x-amz-content-sha256": payloadHash,
  };
  const names = Object.keys(headers).map((h) => h.toLowerCase()).sort();
  const lowered = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v.trim().replace(/\s+/g, " ")]));
  const canonicalHeaders = names.map((n) => `${n}:${lowered[n]}\n`).join("");
  const signedHeaders = names.join(";");
  const path = url.pathname.split("/").map((segment) => uriEncode(decodeURIComponent(segment))).join("/") || "/";
  const canonicalRequest = [request.method, path, canonicalQuery(url), canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const scope = `${date}/${region}/s3/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date), region), "s3"), "aws4_request");
  const signature = createHmac("sha256", signingKey).update(stringToSign, "utf8").digest("hex");
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

export function objectLockConfigurationXml(mode: LockMode, days: number): string {
  if (!Number.isInteger(days) || days < 1) throw new Error(`object-lock days must be a positive integer, got ${days}`);
  return (
    `<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<ObjectLockEnabled>Enabled</ObjectLockEnabled>` +
    `<Rule><DefaultRetention><Mode>${mode}</Mode><Days>${days}</Days></DefaultRetention></Rule>` +
    `</ObjectLockConfiguration>`
  );
}

export interface ObjectLockState {
  enabled: boolean;
  mode?: LockMode;
  days?: number;
}

export function parseObjectLockConfiguration(xml: string): ObjectLockState {
  const tag = (name: string) => new RegExp(`<${name}>\\s*([^<]*?)\\s*</${name}>`).exec(xml)?.[1];
  const mode = tag("Mode");
  const days = tag("Days");
  return {
    enabled: tag("ObjectLockEnabled") === "Enabled",
    ...(mode === "COMPLIANCE" || mode === "GOVERNANCE" ? { mode } : {}),
    ...(days !== undefined ? { days: Number(days) } : {}),
  };
}

function bucketUrl(spec: ArchiveBucketSpec, query = ""): string {
  return `${spec.endpoint.replace(/\/+$/, "")}/${uriEncode(spec.bucket)}${query}`;
}

/**
 * Makes the bucket exist with object lock on and the wanted default
 * retention, idempotently. Refuses what would weaken the archive: a bucket
 * that exists without object lock, a switch away from COMPLIANCE, or a
 * shorter lock period.
 */
export async function ensureObjectLockBucket(
  spec: ArchiveBucketSpec,
  credentials: S3Credentials,
  send: Send,
  now: () => Date = () => new Date(),
): Promise<{ created: boolean; state: ObjectLockState }> {
  const call = async (method: S3Request["method"], url: string, body = "", extra: Record<string, string> = {}) => {
    const headers = signRequest({ method, url, headers: extra, body }, credentials, spec.region, now());
    return send({ method, url, headers, body });
  };
  const failure = (what: string, response: S3Response) =>
    new Error(`${what} of bucket "${spec.bucket}" at ${spec.endpoint} failed with HTTP ${response.status}: ${response.body.slice(0, 300)}`);

  const head = await call("HEAD", bucketUrl(spec));
  let created = false;
  if (head.status === 404) {
    const create = await call("PUT", bucketUrl(spec), "", { "x-amz-bucket-object-lock-enabled": "true" });
    if (create.status !== 200) throw failure("CreateBucket", create);
    created = true;
  } else if (head.status !== 200) {
    throw failure("HeadBucket", head);
  }

  const current = await call("GET", bucketUrl(spec, "?object-lock"));
  if (current.status !== 200) throw failure("GetObjectLockConfiguration", current);
  const before = parseObjectLockConfiguration(current.body);
  if (!before.enabled) {
    throw new Error(`bucket "${spec.bucket}" exists without object lock; an append-only archive needs a new bucket created with it`);
  }
  if (before.mode === "COMPLIANCE" && spec.mode !== "COMPLIANCE") {
    throw new Error(`bucket "${spec.bucket}" is in COMPLIANCE mode; refusing to switch its default retention to ${spec.mode}`);
  }
  if (before.days !== undefined && before.days > spec.days) {
    throw new Error(`bucket "${spec.bucket}" locks objects for ${before.days} days; refusing to shorten that to ${spec.days}`);
  }

  if (before.mode !== spec.mode || before.days !== spec.days) {
    const body = objectLockConfigurationXml(spec.mode, spec.days);
    const md5 = createHash("md5").update(body, "utf8").digest("base64");
    const put = await call("PUT", bucketUrl(spec, "?object-lock"), body, { "content-md5": md5, "content-type": "application/xml" });
    if (put.status !== 200) throw failure("PutObjectLockConfiguration", put);
  }

  const verify = await call("GET", bucketUrl(spec, "?object-lock"));
  if (verify.status !== 200) throw failure("GetObjectLockConfiguration", verify);
  const state = parseObjectLockConfiguration(verify.body);
  if (!state.enabled || state.mode !== spec.mode || state.days !== spec.days) {
    throw new Error(`bucket "${spec.bucket}" reports ${JSON.stringify(state)} after configuration; expected ${spec.mode} for ${spec.days} days`);
  }
  return { created, state };
}
