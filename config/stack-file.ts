import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { ConfigError, type RawStackConfig } from "./load";
import { CONFIG_NAMESPACE } from "./schema";

/** Stand-in for a `secure:` value, which synth cannot (and need not) decrypt. */
export const SECRET_PLACEHOLDER = "[secret]";

const STACK_FILE_KEYS = new Set(["config", "secretsprovider", "encryptionsalt", "encryptedkey", "environment"]);

export interface StackFileConfig extends RawStackConfig {
  /** Keys whose value is (or holds) a `secure:` value. */
  secretKeys: string[];
}

function isSecure(value: unknown): boolean {
  return typeof value === "object" && value !== null && Object.keys(value).length === 1 && "secure" in value;
}

function replaceSecure(value: unknown): { value: unknown; secret: boolean } {
  if (isSecure(value)) return { value: SECRET_PLACEHOLDER, secret: true };
  if (Array.isArray(value)) {
    const items = value.map(replaceSecure);
    return { value: items.map((i) => i.value), secret: items.some((i) => i.secret) };
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).map(([k, v]) => [k, replaceSecure(v)] as const);
    return {
      value: Object.fromEntries(entries.map(([k, v]) => [k, v.value])),
      secret: entries.some(([, v]) => v.secret),
    };
  }
  return { value, secret: false };
}

/**
 * Reads a file in `Pulumi.<stack>.yaml` format into the flat form the Pulumi
 * engine hands to a program, so synth feeds the program exactly what
 * `pulumi up` would.
 */
export function readStackFile(file: string, stack: string): StackFileConfig {
  const label = path.basename(file);
  let doc: unknown;
  try {
    doc = parseYaml(fs.readFileSync(file, "utf8")) ?? {};
  } catch (err) {
    throw new ConfigError([{ file: label, key: "(file)", message: `cannot read: ${(err as Error).message}` }]);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new ConfigError([{ file: label, key: "(file)", message: "expected a mapping with a config: section" }]);
  }
  const unknown = Object.keys(doc).filter((key) => !STACK_FILE_KEYS.has(key));
  if (unknown.length > 0) {
    throw new ConfigError(
      unknown.map((key) => ({
        file: label,
        key,
        message: `unknown top-level key; a stack file holds ${[...STACK_FILE_KEYS].join(", ")}`,
      })),
    );
  }
  const config = (doc as { config?: Record<string, unknown> }).config ?? {};
  const values: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [rawKey, rawValue] of Object.entries(config)) {
    const key = rawKey.includes(":") ? rawKey : `${CONFIG_NAMESPACE}:${rawKey}`;
    const { value, secret } = replaceSecure(rawValue);
    values[key] = typeof value === "string" ? value : JSON.stringify(value);
    if (secret) secretKeys.push(key);
  }
  return { stack, file: label, values, secretKeys };
}
