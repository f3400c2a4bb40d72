import { createHash } from "node:crypto";
import * as http from "node:http";

/** The RGW user that owns every bucket of the fake: the deploy identity's project. */
export const FAKE_RGW_OWNER = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

/**
 * A local stand-in for RGW's bucket API, spoken over HTTP so the real AWS SDK
 * client (signing, XML, errors) is what the tests exercise. It insists on
 * Content-MD5 where RGW does. `keepsPolicy: false` acknowledges a
 * PutBucketPolicy and keeps nothing, like a store that loses writes.
 * `authorize` sees every request first; an error code it returns refuses the
 * request with 403, as RGW refuses a bad signature.
 */
export function fakeRgw(
  options: { keepsPolicy?: boolean; authorize?: (req: http.IncomingMessage, body: string) => string | undefined } = {},
) {
  const buckets = new Map<string, { lock: string | null; policy: string | null; lifecycle?: string | null }>();
  const calls: string[] = [];
  const xml = (res: http.ServerResponse, status: number, body: string) => {
    res.writeHead(status, { "content-type": "application/xml" });
    res.end(body);
  };
  const error = (res: http.ServerResponse, status: number, code: string) =>
    xml(
      res,
      status,
      `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`,
    );
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const url = new URL(req.url ?? "/", "http://fake");
      const name = decodeURIComponent(url.pathname.split("/")[1] ?? "");
      const q = url.searchParams;
      const what = q.has("object-lock")
        ? "object-lock"
        : q.has("policy")
          ? "policy"
          : q.has("acl")
            ? "acl"
            : q.has("lifecycle")
              ? "lifecycle"
              : "bucket";
      const refused = options.authorize?.(req, body);
      if (refused) {
        error(res, 403, refused);
        return;
      }
      calls.push(`${req.method} ${what}`);
      const bucket = buckets.get(name);
      const md5Ok = () => req.headers["content-md5"] === createHash("md5").update(body).digest("base64");
      if (what === "bucket" && req.method === "HEAD") {
        res.writeHead(bucket ? 200 : 404);
        res.end();
        return;
      }
      if (what === "bucket" && req.method === "PUT") {
        buckets.set(name, {
          lock:
            req.headers["x-amz-bucket-object-lock-enabled"] === "true"
              ? "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>"
              : null,
          policy: null,
        });
        res.writeHead(200);
        res.end();
        return;
      }
      if (!bucket) {
        error(res, 404, "NoSuchBucket");
        return;
      }
      if (what === "object-lock" && req.method === "GET") {
        if (bucket.lock) xml(res, 200, bucket.lock);
        else error(res, 404, "ObjectLockConfigurationNotFoundError");
        return;
      }
      if (what === "object-lock" && req.method === "PUT") {
        if (!md5Ok()) {
          error(res, 400, "InvalidDigest");
          return;
        }
        if (!bucket.lock) {
          error(res, 409, "InvalidBucketState");
          return;
        }
        bucket.lock = body;
        res.writeHead(200);
        res.end();
        return;
      }
      if (what === "policy" && req.method === "GET") {
        if (bucket.policy) {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(bucket.policy);
        } else error(res, 404, "NoSuchBucketPolicy");
        return;
      }
      if (what === "policy" && req.method === "PUT") {
        if (!md5Ok()) {
          error(res, 400, "InvalidDigest");
          return;
        }
        if (options.keepsPolicy !== false) bucket.policy = body;
        res.writeHead(204);
        res.end();
        return;
      }
      if (what === "lifecycle" && req.method === "GET") {
        if (bucket.lifecycle) xml(res, 200, bucket.lifecycle);
        else error(res, 404, "NoSuchLifecycleConfiguration");
        return;
      }
      if (what === "lifecycle" && req.method === "PUT") {
        if (!md5Ok()) {
          error(res, 400, "InvalidDigest");
          return;
        }
        bucket.lifecycle = body;
        res.writeHead(200);
        res.end();
        return;
      }
      if (what === "acl" && req.method === "GET") {
        xml(
          res,
          200,
          `<?xml version="1.0" encoding="UTF-8"?><AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>${FAKE_RGW_OWNER}</ID><DisplayName>${FAKE_RGW_OWNER}</DisplayName></Owner><AccessControlList></AccessControlList></AccessControlPolicy>`,
        );
        return;
      }
      error(res, 405, "MethodNotAllowed");
    });
  });
  return { server, buckets, calls };
}
