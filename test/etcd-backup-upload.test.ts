/**
 * The snapshot-to-bucket path, for real: the CronJob's script
 * (components/etcd-backup/etcd-backup.mjs) run by node, as the upload
 * container runs it, against an S3 stand-in on 127.0.0.1 that checks the
 * request the way RGW would (SigV4 signature, Content-MD5, payload hash,
 * key under the cluster's prefix), then the restore's decryption of what it
 * stored.
 */
import { execFile } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signRequest } from "../components/audit-trail/object-lock";
import { backupBucketPolicy, backupPrefix } from "../plan/etcd-backup";
import { ROOT } from "./support/stacks";

const run = promisify(execFile);
const SCRIPT = path.join(ROOT, "components", "etcd-backup", "etcd-backup.mjs");
const NODE = process.execPath;

interface BackupModule {
  signV4(request: { method: string; url: string; headers: Record<string, string>; payloadHash: string }, credentials: { accessKeyId: string; secretAccessKey: string }, region: string, now: Date): Record<string, string>;
  MAGIC: string;
}
const loadScript = async () => (await import(pathToFileURL(SCRIPT).href)) as BackupModule;

const CREDENTIALS = { accessKeyId: "WRITERKEY", secretAccessKey: "writer-secret-never-on-a-command-line" };
const REGION = "osl2";
const BUCKET = "ske-test-osl2-etcd-backups";
const CLUSTER = "test-osl2-ops";

interface Stored { key: string; body: Buffer; headers: IncomingMessage["headers"] }

/** An S3 PUT endpoint that accepts only what RGW would: the writer's signature over these exact headers and bytes. */
function fakeS3(mod: BackupModule) {
  const stored: Stored[] = [];
  const refusals: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const refuse = (status: number, why: string) => {
        refusals.push(why);
        res.writeHead(status).end(why);
      };
      if (req.method !== "PUT") return refuse(405, `method ${req.method}`);
      const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
      const [, bucket, ...rest] = url.pathname.split("/");
      const key = rest.map(decodeURIComponent).join("/");
      if (bucket !== BUCKET) return refuse(404, `bucket ${bucket}`);
      if (!key.startsWith(backupPrefix(CLUSTER))) return refuse(403, `key ${key} outside the prefix`);
      const sha = createHash("sha256").update(body).digest("hex");
      const md5 = createHash("md5").update(body).digest("base64");
      if (req.headers["x-amz-content-sha256"] !== sha) return refuse(400, "XAmzContentSHA256Mismatch");
      // Object-lock buckets refuse a PUT without Content-MD5.
      if (req.headers["content-md5"] !== md5) return refuse(400, "InvalidDigest");
      if (Number(req.headers["content-length"]) !== body.length) return refuse(400, "IncompleteBody");
      const auth = String(req.headers.authorization);
      const signed = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(";") ?? [];
      const headers = Object.fromEntries(signed.filter((h) => !["host", "x-amz-date", "x-amz-content-sha256"].includes(h)).map((h) => [h, String(req.headers[h])]));
      const amz = String(req.headers["x-amz-date"]);
      const when = new Date(`${amz.slice(0, 4)}-${amz.slice(4, 6)}-${amz.slice(6, 8)}T${amz.slice(9, 11)}:${amz.slice(11, 13)}:${amz.slice(13, 15)}Z`);
      const expected = mod.signV4({ method: "PUT", url: `http://${req.headers.host}${req.url}`, headers, payloadHash: sha }, CREDENTIALS, REGION, when);
      if (expected.authorization !== auth) return refuse(403, "SignatureDoesNotMatch");
      stored.push({ key, body, headers: req.headers });
      res.writeHead(200).end();
    });
  });
  return { server, stored, refusals };
}

let work: string;
let endpoint: string;
let s3: ReturnType<typeof fakeS3>;
const keys = generateKeyPairSync("rsa", { modulusLength: 2048, publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } });

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "etcd-backup-"));
  s3 = fakeS3(await loadScript());
  await new Promise<void>((resolve) => s3.server.listen(0, "127.0.0.1", resolve));
  const address = s3.server.address();
  if (typeof address !== "object" || address === null) throw new Error("no address");
  endpoint = `http://127.0.0.1:${address.port}`;
  fs.writeFileSync(path.join(work, "recipient.pem"), keys.publicKey);
  fs.writeFileSync(path.join(work, "backup-key.pem"), keys.privateKey, { mode: 0o600 });
});
afterAll(async () => {
  await new Promise<void>((resolve) => s3.server.close(() => resolve()));
  fs.rmSync(work, { recursive: true, force: true });
});

/** Runs the upload exactly as the CronJob's upload container does: `node etcd-backup.mjs upload` with BACKUP_* set. */
async function upload(snapshot: Buffer, overrides: Record<string, string> = {}) {
  const file = path.join(work, "etcd.db");
  fs.writeFileSync(file, snapshot);
  return run(NODE, [SCRIPT, "upload"], {
    env: {
      PATH: process.env.PATH ?? "",
      BACKUP_FILE: file,
      BACKUP_CLUSTER: CLUSTER,
      BACKUP_ENDPOINT: endpoint,
      BACKUP_BUCKET: BUCKET,
      BACKUP_REGION: REGION,
      BACKUP_PREFIX: backupPrefix(CLUSTER),
      BACKUP_RECIPIENT: path.join(work, "recipient.pem"),
      BACKUP_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      BACKUP_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      ...overrides,
    },
  });
}

describe("the uploader's SigV4 signer", () => {
  it("signs exactly as the audit archive's reconciler (object-lock.ts) does", async () => {
    const mod = await loadScript();
    const now = new Date("2026-11-29T12:34:56.789Z");
    for (const [url, body, headers] of [
      ["https://s3.osl2.ske.example.net/ske-test-osl2-etcd-backups/test-osl2-ops/20261129T123456Z.etcd.enc", "snapshot bytes", { "content-md5": "abc==", "content-type": "application/octet-stream" }],
      ["https://s3.sto2.ske.example.net/b/k%20with%20space?versionId=x&a=1", "", {}],
      ["http://127.0.0.1:9000/bucket/a/b/c", "{\"json\":true}", { "content-length": "13" }],
    ] as const) {
      const reference = signRequest({ method: "PUT", url, headers: { ...headers }, body }, CREDENTIALS, REGION, now);
      const ours = mod.signV4({ method: "PUT", url, headers: { ...headers }, payloadHash: createHash("sha256").update(body).digest("hex") }, CREDENTIALS, REGION, now);
      expect(ours.authorization).toBe(reference.authorization);
    }
  });
});

describe("snapshot to bucket, and back", () => {
  it("puts one encrypted object under the cluster's prefix, which the stack's private key turns back into the snapshot", async () => {
    const snapshot = Buffer.concat([Buffer.from("etcd snapshot of test-osl2-ops\n"), Buffer.alloc(200_000, 7)]);
    const before = s3.stored.length;
    const { stdout } = await upload(snapshot);
    expect(s3.refusals).toEqual([]);
    expect(s3.stored).toHaveLength(before + 1);
    const object = s3.stored[s3.stored.length - 1]!;
    expect(object.key).toMatch(/^test-osl2-ops\/\d{8}T\d{6}Z\.etcd\.enc$/);
    expect(stdout).toContain(object.key);
    // Encrypted: the snapshot's bytes are nowhere in what the bucket holds.
    expect(object.body.includes(Buffer.from("etcd snapshot of test-osl2-ops"))).toBe(false);
    expect(object.body.subarray(0, 17).toString()).toBe((await loadScript()).MAGIC);
    // Nothing of the snapshot or its encrypted copy is left on the pod's disk.
    expect(fs.existsSync(path.join(work, "etcd.db"))).toBe(false);
    expect(fs.existsSync(path.join(work, "etcd.db.enc"))).toBe(false);

    fs.writeFileSync(path.join(work, "snapshot.enc"), object.body);
    await run(NODE, [SCRIPT, "decrypt", "--key", path.join(work, "backup-key.pem"), "--cluster", CLUSTER, "--in", path.join(work, "snapshot.enc"), "--out", path.join(work, "db.snapshot")]);
    expect(fs.readFileSync(path.join(work, "db.snapshot")).equals(snapshot)).toBe(true);
  });

  it("fails the job, naming the status, when the bucket refuses the writer", async () => {
    const refused = upload(Buffer.from("x"), { BACKUP_SECRET_ACCESS_KEY: "a-wrong-secret" });
    await expect(refused).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("failed with HTTP 403") });
    expect(s3.refusals).toContain("SignatureDoesNotMatch");
  });

  it("refuses to decrypt an altered object, a backup of another cluster, or with another key", async () => {
    await upload(Buffer.from("another snapshot"));
    const body = s3.stored[s3.stored.length - 1]!.body;
    const decrypt = (file: string, cluster = CLUSTER, key = path.join(work, "backup-key.pem")) =>
      run(NODE, [SCRIPT, "decrypt", "--key", key, "--cluster", cluster, "--in", file, "--out", path.join(work, "out.db")]);

    const altered = Buffer.from(body);
    altered[altered.length - 20]! ^= 0xff;
    fs.writeFileSync(path.join(work, "altered.enc"), altered);
    await expect(decrypt(path.join(work, "altered.enc"))).rejects.toMatchObject({ stderr: expect.stringContaining("does not decrypt") });
    expect(fs.existsSync(path.join(work, "out.db"))).toBe(false);

    fs.writeFileSync(path.join(work, "good.enc"), body);
    await expect(decrypt(path.join(work, "good.enc"), "test-osl2-mgmt")).rejects.toMatchObject({ stderr: expect.stringContaining("is a backup of test-osl2-ops, not of test-osl2-mgmt") });

    const other = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
    fs.writeFileSync(path.join(work, "other-key.pem"), other.privateKey);
    await expect(decrypt(path.join(work, "good.enc"), CLUSTER, path.join(work, "other-key.pem"))).rejects.toMatchObject({ stderr: expect.stringContaining("not to this cluster's backup key") });
  });
});

describe("the backup bucket, made by the archive's reconciler as the program runs it", () => {
  it("creates it locked in COMPLIANCE, puts the put-only policy and the expiry, every call signed by the owner, and changes nothing on a second run", async () => {
    const owner = { accessKeyId: "OWNERKEY", secretAccessKey: "owner-secret" };
    const state: { exists: boolean; lock?: string; policy?: string; lifecycle?: string } = { exists: false };
    const seen: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const url = `http://${req.headers.host}${req.url}`;
        const signed = /SignedHeaders=([^,]+)/.exec(String(req.headers.authorization))?.[1]?.split(";") ?? [];
        const extra = Object.fromEntries(signed.filter((h) => !["host", "x-amz-date", "x-amz-content-sha256"].includes(h)).map((h) => [h, String(req.headers[h])]));
        const amz = String(req.headers["x-amz-date"]);
        const when = new Date(`${amz.slice(0, 4)}-${amz.slice(4, 6)}-${amz.slice(6, 8)}T${amz.slice(9, 11)}:${amz.slice(11, 13)}:${amz.slice(13, 15)}Z`);
        const expected = signRequest({ method: req.method!, url, headers: extra, body }, owner, REGION, when);
        if (expected.authorization !== req.headers.authorization) return res.writeHead(403).end("SignatureDoesNotMatch");
        const query = new URL(url).search;
        seen.push(`${req.method} ${query || "/"}`);
        const md5ok = () => req.headers["content-md5"] === createHash("md5").update(body).digest("base64");
        if (req.method === "HEAD") return res.writeHead(state.exists ? 200 : 404).end();
        if (req.method === "PUT" && query === "") {
          if (req.headers["x-amz-bucket-object-lock-enabled"] !== "true") return res.writeHead(400).end("no object lock");
          state.exists = true;
          state.lock = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>";
          return res.writeHead(200).end();
        }
        const key = ({ "?object-lock": "lock", "?policy": "policy", "?lifecycle": "lifecycle" } as const)[query as "?policy"];
        if (!key) return res.writeHead(405).end();
        if (req.method === "GET") return state[key] ? res.writeHead(200).end(state[key]) : res.writeHead(404).end("NoSuch");
        if (key !== "policy" && !md5ok()) return res.writeHead(400).end("InvalidDigest");
        state[key] = body;
        return res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const policy = JSON.stringify(backupBucketPolicy(BUCKET, ["9f3c1a7e2b5d4c6e8a0b1c2d3e4f5001"], [{ cluster: CLUSTER, projectId: "9f3c1a7e2b5d4c6e8a0b1c2d3e4f7001" }]));
    const reconcile = () => run("npx", ["--no-install", "tsx", "scripts/audit-archive-bucket.ts"], {
      cwd: ROOT,
      env: {
        PATH: `${path.join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? ""}`,
        ARCHIVE_ENDPOINT: `http://127.0.0.1:${port}`,
        ARCHIVE_BUCKET: BUCKET,
        ARCHIVE_REGION: REGION,
        ARCHIVE_LOCK_MODE: "COMPLIANCE",
        ARCHIVE_LOCK_DAYS: "14",
        ARCHIVE_ACCESS_KEY_ID: owner.accessKeyId,
        ARCHIVE_SECRET_ACCESS_KEY: owner.secretAccessKey,
        ARCHIVE_BUCKET_POLICY: policy,
        ARCHIVE_EXPIRE_DAYS: "14",
      },
    });
    try {
      const first = await reconcile();
      expect(first.stdout).toContain(`${BUCKET}: created; object lock COMPLIANCE for 14 days`);
      expect(first.stdout).toContain(`${BUCKET}: objects expire 14 days after they are written (set)`);
      expect(state.lock).toContain("<Mode>COMPLIANCE</Mode><Days>14</Days>");
      expect(JSON.parse(state.policy!)).toEqual(JSON.parse(policy));
      expect(state.lifecycle).toContain("<Expiration><Days>14</Days></Expiration>");
      seen.length = 0;
      const second = await reconcile();
      expect(second.stdout).toContain("bucket policy unchanged");
      expect(second.stdout).toContain("(unchanged)");
      expect(seen.filter((s) => s.startsWith("PUT"))).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
