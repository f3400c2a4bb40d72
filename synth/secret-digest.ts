import { createHmac, randomBytes } from "node:crypto";
import { revealSecrets, type RecordedResource } from "./mock-runtime";

/**
 * The environment variable through which `npm run diff` hands both synths
 * (base and head) one key for the run. Without it each synth process draws a
 * key of its own, so digests of two plain `npm run synth` runs never match
 * and nobody can mistake them for something comparable.
 */
export const SECRET_DIGEST_KEY_ENV = "SKE_SECRET_DIGEST_KEY";

/** A recorded resource plus, per secret input path, a keyed digest of its value. */
export type DigestedResource = RecordedResource & { secretDigests?: Record<string, string> };

let processKey: string | undefined;

function digestKey(): string {
  const fromEnv = process.env[SECRET_DIGEST_KEY_ENV];
  if (fromEnv) return fromEnv;
  processKey ??= randomBytes(32).toString("hex");
  return processKey;
}

function valueAt(root: unknown, path: string): unknown {
  if (path === "(root)") return root;
  const keys = path.split(/\.|\[(\d+)\]/).filter((k) => k !== undefined && k !== "");
  return keys.reduce<unknown>(
    (node, key) => (typeof node === "object" && node !== null ? (node as Record<string, unknown>)[key] : undefined),
    root,
  );
}

/** Canonical JSON (sorted keys), so key order never reads as a change. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "undefined";
}

/**
 * An HMAC-SHA256 of a secret value under a key that lives only as long as
 * the diff run. Two digests under one key are equal exactly when the values
 * are; without the key a digest tells nothing about the value, not even for
 * a short password that a plain hash would give away to a dictionary.
 */
export function secretDigest(value: unknown, key = digestKey()): string {
  return `hmac-sha256:${createHmac("sha256", key)
    .update(canonical(revealSecrets(value)))
    .digest("hex")}`;
}

/**
 * Adds `secretDigests` to every resource that has secret inputs, from the
 * raw inputs synth kept for the policies. The values themselves stay out.
 */
export function withSecretDigests(
  resources: readonly RecordedResource[],
  revealed: ReadonlyMap<string, Record<string, unknown>>,
  key = digestKey(),
): DigestedResource[] {
  return resources.map((r) => {
    const raw = revealed.get(`${r.type}::${r.name}`);
    if (!raw || r.secretPaths.length === 0) return r;
    const digests = Object.fromEntries(r.secretPaths.map((p) => [p, secretDigest(valueAt(raw, p), key)]));
    return { ...r, secretDigests: digests };
  });
}
