// The etcd backup's encryption and upload, and the restore's decryption.
// Plain JavaScript with no dependency, because it runs in the CronJob's
// stock node image from a ConfigMap (components/etcd-backup) as well as on
// the jump host during a restore (docs/operations/restore.md):
//
//   node etcd-backup.mjs upload     (BACKUP_* environment, see upload())
//   node etcd-backup.mjs decrypt --key backup-key.pem --cluster <name> --in snapshot.enc --out db.snapshot
//
// Format: one line of magic, one line of JSON header (cluster, time, key id,
// the AES-256-GCM key wrapped with RSA-OAEP-SHA256 to the cluster's public
// key, the IV), then the ciphertext, then the 16-byte GCM tag. The header
// line is the GCM additional data, so a header moved onto another
// ciphertext fails the tag. The private key exists only in the stack's
// secrets: the cluster can write backups but never read one.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  createPrivateKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  constants,
} from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  openSync,
  readSync,
  fstatSync,
  closeSync,
  readFileSync,
  statSync,
} from "node:fs";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";

export const MAGIC = "SKE-ETCD-BACKUP-1";
const TAG_BYTES = 16;
/** S3 refuses a single PUT above 5 GiB; etcd's own quota is far below. */
const MAX_PUT_BYTES = 5 * 1024 ** 3;

export function keyId(publicKeyPem) {
  const der = createPublicKey(publicKeyPem).export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("hex");
}

/** Encrypts `inFile` to `outFile` for `publicKeyPem`; returns the header. */
export async function encryptFile(inFile, outFile, publicKeyPem, cluster, now = new Date()) {
  const dataKey = randomBytes(32);
  const iv = randomBytes(12);
  const wrapped = publicEncrypt(
    { key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
    dataKey,
  );
  const header = {
    cluster,
    createdAt: now.toISOString(),
    keyId: keyId(publicKeyPem),
    alg: "RSA-OAEP-256+A256GCM",
    wrappedKey: wrapped.toString("base64"),
    iv: iv.toString("base64"),
  };
  const headerBytes = Buffer.from(`${MAGIC}\n${JSON.stringify(header)}\n`, "utf8");
  const cipher = createCipheriv("aes-256-gcm", dataKey, iv);
  cipher.setAAD(headerBytes);
  const out = createWriteStream(outFile, { mode: 0o600 });
  out.write(headerBytes);
  await pipeline(createReadStream(inFile), cipher, out, { end: false });
  await new Promise((resolve, reject) => out.end(cipher.getAuthTag(), (err) => (err ? reject(err) : resolve())));
  return header;
}

function readHeader(file) {
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, 8192));
    readSync(fd, head, 0, head.length, 0);
    const first = head.indexOf(0x0a);
    const second = head.indexOf(0x0a, first + 1);
    if (first < 0 || second < 0 || head.subarray(0, first).toString("utf8") !== MAGIC)
      throw new Error(`${file} is not an etcd backup of this program (no ${MAGIC} header)`);
    const tag = Buffer.alloc(TAG_BYTES);
    readSync(fd, tag, 0, TAG_BYTES, size - TAG_BYTES);
    return {
      header: JSON.parse(head.subarray(first + 1, second).toString("utf8")),
      headerBytes: head.subarray(0, second + 1),
      tag,
      size,
    };
  } finally {
    closeSync(fd);
  }
}

/**
 * Decrypts a backup. Refuses one written for another cluster or another key,
 * and deletes the output when the tag does not verify (a truncated or
 * altered object).
 */
export async function decryptFile(inFile, outFile, privateKeyPem, cluster) {
  const { header, headerBytes, tag, size } = readHeader(inFile);
  if (header.cluster !== cluster) throw new Error(`${inFile} is a backup of ${header.cluster}, not of ${cluster}`);
  const publicKeyPem = createPublicKey(createPrivateKey(privateKeyPem)).export({
    type: "spki",
    format: "pem",
  });
  if (header.keyId !== keyId(publicKeyPem))
    throw new Error(
      `${inFile} was encrypted to key ${header.keyId}, not to this cluster's backup key ${keyId(publicKeyPem)}`,
    );
  const dataKey = privateDecrypt(
    { key: privateKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
    Buffer.from(header.wrappedKey, "base64"),
  );
  const decipher = createDecipheriv("aes-256-gcm", dataKey, Buffer.from(header.iv, "base64"));
  decipher.setAAD(headerBytes);
  decipher.setAuthTag(tag);
  const end = size - TAG_BYTES - 1;
  try {
    await pipeline(
      createReadStream(inFile, { start: headerBytes.length, end }),
      decipher,
      createWriteStream(outFile, { mode: 0o600 }),
    );
  } catch (err) {
    const { rmSync } = await import("node:fs");
    rmSync(outFile, { force: true });
    throw new Error(
      `${inFile} does not decrypt: ${err instanceof Error ? err.message : String(err)} (altered or truncated)`,
      { cause: err },
    );
  }
  return header;
}

// --- SigV4 for one PUT, the only hand-made signer in the program: the pod
// runs a stock node image without npm packages. test/etcd-backup-upload.test.ts
// holds it to the signatures of the AWS SDK's S3 client.

const hmac = (key, data) => createHmac("sha256", key).update(data, "utf8").digest();
const uriEncode = (value) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Headers (with authorization) for a request whose payload hashes to `payloadHash`. */
export function signV4({ method, url, headers, payloadHash }, credentials, region, now) {
  const u = new URL(url);
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const date = amzDate.slice(0, 8);
  const all = { ...headers, host: u.host, "x-amz-date": amzDate, "x-amz-content-sha256": payloadHash };
  const lowered = Object.fromEntries(
    Object.entries(all).map(([k, v]) => [k.toLowerCase(), String(v).trim().replace(/\s+/g, " ")]),
  );
  const names = Object.keys(lowered).sort();
  const canonicalHeaders = names.map((n) => `${n}:${lowered[n]}\n`).join("");
  const signedHeaders = names.join(";");
  const path =
    u.pathname
      .split("/")
      .map((s) => uriEncode(decodeURIComponent(s)))
      .join("/") || "/";
  const query = [...u.searchParams.entries()]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalRequest = [method, path, query, canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const scope = `${date}/${region}/s3/aws4_request`;
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    amzDate,
    scope,
    createHash("sha256").update(canonicalRequest, "utf8").digest("hex"),
  ].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date), region), "s3"), "aws4_request");
  const signature = createHmac("sha256", key).update(stringToSign, "utf8").digest("hex");
  return {
    ...all,
    authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

async function digests(file) {
  const sha = createHash("sha256");
  const md5 = createHash("md5");
  for await (const chunk of createReadStream(file)) {
    sha.update(chunk);
    md5.update(chunk);
  }
  return { sha256: sha.digest("hex"), md5: md5.digest("base64") };
}

/** The object key of a snapshot taken at `now`: sortable, one per run. */
export const objectKey = (prefix, now) =>
  `${prefix}${now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "")}.etcd.enc`;

/** PUTs `file` as one signed object; Content-MD5 because buckets with object lock require it. */
export async function putObject({ endpoint, bucket, key, region, file }, credentials, now = new Date()) {
  const size = statSync(file).size;
  if (size > MAX_PUT_BYTES)
    throw new Error(`${file} is ${size} bytes, above the ${MAX_PUT_BYTES} a single PUT may carry`);
  const { sha256, md5 } = await digests(file);
  const url = `${endpoint.replace(/\/+$/, "")}/${uriEncode(bucket)}/${key.split("/").map(uriEncode).join("/")}`;
  const headers = signV4(
    {
      method: "PUT",
      url,
      headers: {
        "content-length": String(size),
        "content-md5": md5,
        "content-type": "application/octet-stream",
      },
      payloadHash: sha256,
    },
    credentials,
    region,
    now,
  );
  delete headers.host;
  const response = await fetch(url, { method: "PUT", headers, body: createReadStream(file), duplex: "half" });
  if (response.status !== 200)
    throw new Error(
      `PutObject ${bucket}/${key} at ${endpoint} failed with HTTP ${response.status}: ${(await response.text()).slice(0, 300)}`,
    );
  return { key, size, sha256 };
}

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function upload() {
  const file = required("BACKUP_FILE");
  const cluster = required("BACKUP_CLUSTER");
  const now = new Date();
  const encrypted = `${file}.enc`;
  const header = await encryptFile(file, encrypted, readFileSync(required("BACKUP_RECIPIENT"), "utf8"), cluster, now);
  const { rmSync } = await import("node:fs");
  rmSync(file, { force: true });
  const result = await putObject(
    {
      endpoint: required("BACKUP_ENDPOINT"),
      bucket: required("BACKUP_BUCKET"),
      key: objectKey(required("BACKUP_PREFIX"), now),
      region: required("BACKUP_REGION"),
      file: encrypted,
    },
    { accessKeyId: required("BACKUP_ACCESS_KEY_ID"), secretAccessKey: required("BACKUP_SECRET_ACCESS_KEY") },
    now,
  );
  rmSync(encrypted, { force: true });
  console.log(
    `${cluster}: snapshot ${result.key} (${result.size} bytes, sha256 ${result.sha256}) encrypted to key ${header.keyId}`,
  );
}

async function decrypt(args) {
  const option = (name) => {
    const i = args.indexOf(`--${name}`);
    if (i < 0 || !args[i + 1]) throw new Error(`decrypt needs --${name}`);
    return args[i + 1];
  };
  const header = await decryptFile(option("in"), option("out"), readFileSync(option("key"), "utf8"), option("cluster"));
  console.log(`${option("out")}: snapshot of ${header.cluster} taken ${header.createdAt}, tag verified`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [command, ...rest] = process.argv.slice(2);
  const run =
    command === "upload"
      ? upload()
      : command === "decrypt"
        ? decrypt(rest)
        : Promise.reject(new Error("usage: etcd-backup.mjs upload | decrypt --key K --cluster C --in F --out F"));
  run.catch((err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
