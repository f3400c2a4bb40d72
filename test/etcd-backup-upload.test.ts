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
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { archiveClient } from "../scripts/object-lock-bucket";
import { archiveBucketPolicy } from "../plan/bucket-policy";
import { backupPrefix } from "../plan/etcd-backup";
import { fakeRgw } from "./support/fake-rgw";
import { ROOT } from "./support/stacks";

const run = promisify(execFile);
const SCRIPT = path.join(ROOT, "components", "etcd-backup", "etcd-backup.mjs");
const NODE = process.execPath;

interface BackupModule {
  signV4(
    request: { method: string; url: string; headers: Record<string, string>; payloadHash: string },
    credentials: { accessKeyId: string; secretAccessKey: string },
    region: string,
    now: Date,
  ): Record<string, string>;
  MAGIC: string;
}
const loadScript = async () => (await import(pathToFileURL(SCRIPT).href)) as BackupModule;

const CREDENTIALS = { accessKeyId: "WRITERKEY", secretAccessKey: "writer-secret-never-on-a-command-line" };
const REGION = "osl2";
const BUCKET = "ske-test-osl2-etcd-backups";
const CLUSTER = "test-osl2-ops";

interface Stored {
  key: string;
  body: Buffer;
  headers: IncomingMessage["headers"];
}

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
      const headers = Object.fromEntries(
        signed
          .filter((h) => !["host", "x-amz-date", "x-amz-content-sha256"].includes(h))
          .map((h) => [h, String(req.headers[h])]),
      );
      const amz = String(req.headers["x-amz-date"]);
      const when = new Date(
        `${amz.slice(0, 4)}-${amz.slice(4, 6)}-${amz.slice(6, 8)}T${amz.slice(9, 11)}:${amz.slice(11, 13)}:${amz.slice(13, 15)}Z`,
      );
      const expected = mod.signV4(
        { method: "PUT", url: `http://${req.headers.host}${req.url}`, headers, payloadHash: sha },
        CREDENTIALS,
        REGION,
        when,
      );
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
const keys = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
});

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
  // The fake S3 recomputes every signature with the uploader's signer; the AWS SDK's own signer is the reference.
  const sdkPut = async (key: string, body: string, credentials = CREDENTIALS) => {
    const client = await archiveClient({ endpoint, region: REGION }, credentials);
    try {
      return await client.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: "application/octet-stream" }),
      );
    } finally {
      client.destroy();
    }
  };

  it("signs exactly as the AWS SDK's S3 client does", async () => {
    const before = s3.stored.length;
    for (const [key, body] of [
      [`${backupPrefix(CLUSTER)}20261129T123456Z.etcd.enc`, "snapshot bytes"],
      [`${backupPrefix(CLUSTER)}k with space+plus=(x)*!`, '{"json":true}'],
      [`${backupPrefix(CLUSTER)}a/b/c`, "x"],
    ] as const) {
      expect((await sdkPut(key, body)).$metadata.httpStatusCode).toBe(200);
    }
    expect(s3.stored.slice(before).map((o) => o.key)).toEqual([
      `${backupPrefix(CLUSTER)}20261129T123456Z.etcd.enc`,
      `${backupPrefix(CLUSTER)}k with space+plus=(x)*!`,
      `${backupPrefix(CLUSTER)}a/b/c`,
    ]);
    // And a signature with another secret is refused, so the comparison can fail.
    await expect(
      sdkPut(`${backupPrefix(CLUSTER)}forged`, "x", { ...CREDENTIALS, secretAccessKey: "another-secret" }),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    expect(s3.refusals.splice(0)).toEqual(["SignatureDoesNotMatch"]);
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
    await run(NODE, [
      SCRIPT,
      "decrypt",
      "--key",
      path.join(work, "backup-key.pem"),
      "--cluster",
      CLUSTER,
      "--in",
      path.join(work, "snapshot.enc"),
      "--out",
      path.join(work, "db.snapshot"),
    ]);
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
      run(NODE, [
        SCRIPT,
        "decrypt",
        "--key",
        key,
        "--cluster",
        cluster,
        "--in",
        file,
        "--out",
        path.join(work, "out.db"),
      ]);

    const altered = Buffer.from(body);
    altered[altered.length - 20]! ^= 0xff;
    fs.writeFileSync(path.join(work, "altered.enc"), altered);
    await expect(decrypt(path.join(work, "altered.enc"))).rejects.toMatchObject({
      stderr: expect.stringContaining("does not decrypt"),
    });
    expect(fs.existsSync(path.join(work, "out.db"))).toBe(false);

    fs.writeFileSync(path.join(work, "good.enc"), body);
    await expect(decrypt(path.join(work, "good.enc"), "test-osl2-mgmt")).rejects.toMatchObject({
      stderr: expect.stringContaining("is a backup of test-osl2-ops, not of test-osl2-mgmt"),
    });

    const other = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    fs.writeFileSync(path.join(work, "other-key.pem"), other.privateKey);
    await expect(decrypt(path.join(work, "good.enc"), CLUSTER, path.join(work, "other-key.pem"))).rejects.toMatchObject(
      { stderr: expect.stringContaining("not to this cluster's backup key") },
    );
  });
});

describe("the backup bucket, made by the archive's reconciler as the program runs it", () => {
  it("creates it locked in COMPLIANCE, puts the put-only policy and the expiry, every call signed by the owner, and changes nothing on a second run", async () => {
    const mod = await loadScript();
    const owner = { accessKeyId: "OWNERKEY", secretAccessKey: "owner-secret" };
    // Every call the reconciler makes must carry the owner's signature, recomputed here by the uploader's signer.
    const rgw = fakeRgw({
      authorize: (req, body) => {
        const payloadHash = createHash("sha256").update(body).digest("hex");
        if (req.headers["x-amz-content-sha256"] !== payloadHash) return "XAmzContentSHA256Mismatch";
        const auth = String(req.headers.authorization);
        const signed = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(";") ?? [];
        const headers = Object.fromEntries(
          signed
            .filter((h) => !["host", "x-amz-date", "x-amz-content-sha256"].includes(h))
            .map((h) => [h, String(req.headers[h])]),
        );
        const amz = String(req.headers["x-amz-date"]);
        const when = new Date(
          `${amz.slice(0, 4)}-${amz.slice(4, 6)}-${amz.slice(6, 8)}T${amz.slice(9, 11)}:${amz.slice(11, 13)}:${amz.slice(13, 15)}Z`,
        );
        const expected = mod.signV4(
          { method: req.method!, url: `http://${req.headers.host}${req.url}`, headers, payloadHash },
          owner,
          REGION,
          when,
        );
        return expected.authorization === auth ? undefined : "SignatureDoesNotMatch";
      },
    });
    await new Promise<void>((resolve) => rgw.server.listen(0, "127.0.0.1", resolve));
    const port = (rgw.server.address() as { port: number }).port;
    const writers = [{ cluster: CLUSTER, projectId: "9d3a61c24b7e4f1a8c256e0f3b2a9e01" }];
    const foreign = ["9f3c1a7e2b5d4c6e8a0b1c2d3e4f5001"];
    const policy = JSON.stringify(archiveBucketPolicy(BUCKET, writers, foreign));
    const reconcile = () =>
      run(NODE, ["scripts/audit-archive-bucket.cjs", "reconcile"], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? "",
          ARCHIVE_ENDPOINT: `http://127.0.0.1:${port}`,
          ARCHIVE_BUCKET: BUCKET,
          ARCHIVE_REGION: REGION,
          ARCHIVE_LOCK_MODE: "COMPLIANCE",
          ARCHIVE_LOCK_DAYS: "14",
          ARCHIVE_WRITERS: JSON.stringify(writers),
          ARCHIVE_FOREIGN_PROJECTS: JSON.stringify(foreign),
          ARCHIVE_ACCESS_KEY_ID: owner.accessKeyId,
          ARCHIVE_SECRET_ACCESS_KEY: owner.secretAccessKey,
          ARCHIVE_BUCKET_POLICY: policy,
          ARCHIVE_EXPIRE_DAYS: "14",
        },
      });
    try {
      const first = await reconcile();
      expect(JSON.parse(first.stdout)).toMatchObject({
        bucket: BUCKET,
        objectLock: { enabled: true, mode: "COMPLIANCE", days: 14 },
        expireDays: 14,
      });
      const stored = rgw.buckets.get(BUCKET)!;
      expect(stored.lock).toContain("<Mode>COMPLIANCE</Mode><Days>14</Days>");
      expect(JSON.parse(stored.policy!)).toEqual(JSON.parse(policy));
      expect(stored.lifecycle).toContain("<Expiration><Days>14</Days></Expiration>");
      expect(rgw.calls).toEqual(
        expect.arrayContaining(["PUT bucket", "PUT object-lock", "PUT policy", "PUT lifecycle", "GET acl"]),
      );
      rgw.calls.length = 0;
      const second = await reconcile();
      expect(JSON.parse(second.stdout)).toMatchObject({ expireDays: 14 });
      expect(rgw.calls.filter((c) => c.startsWith("PUT"))).toEqual([]);
      expect(`${first.stdout}${first.stderr}${second.stdout}${second.stderr}`).not.toContain(owner.secretAccessKey);
    } finally {
      await new Promise<void>((resolve) => rgw.server.close(() => resolve()));
    }
  });
});
