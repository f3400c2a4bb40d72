import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { addressPlanProblems, addressPlanSchema, foreignSupernets, type AddressPlan } from "../plan/address-plan";
import { cidrOverlaps } from "../plan/cidr";
import { ENVIRONMENTS } from "../plan/address-plan";
import {
  archiveId,
  committedOwnership,
  repositorySettingsProblem,
  sharedArchiveProblem,
  sharedWriterProblems,
} from "./cross-stack";
import { foreignAddressClashes } from "./isolation";
import { plainCredentialProblem } from "./siem-auth";
import { archiveWriterProblems } from "./archive-writers";
import { backupWriterProblems } from "./backups";
import { CONFIG_NAMESPACE, platformConfigSchema, type PlatformConfig } from "./schema";

/**
 * The directory holding Pulumi.yaml. Found by walking up rather than from a
 * fixed `..`, so that bundled copies of this module (scripts/run-ts.cjs)
 * resolve the same files.
 */
export const REPO_ROOT = findRepoRoot(__dirname);
export const ADDRESS_PLAN_FILE = path.join(REPO_ROOT, "address-plan.yaml");

function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no Pulumi.yaml above ${start}`);
  }
}

export interface ConfigProblem {
  /** Where the problem is, e.g. `ske-platform:sites.osl2.nodes.worker`. */
  key: string;
  /** The file that holds that key. */
  file: string;
  message: string;
}

/**
 * Thrown before any resource is registered. It lists every problem at once, so
 * one run of preview or synth is enough to fix a stack file.
 */
export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.file}: ${p.key}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

export interface RawStackConfig {
  /** Stack name, e.g. `production` (or `test-lab` for a variant of test). */
  stack: string;
  /** File the values came from, named in every error. */
  file: string;
  /** Flat config as Pulumi hands it over: `namespace:key` → string (JSON for objects). */
  values: Record<string, string>;
  /** Keys whose value is a Pulumi secret; credentials must be among them. */
  secretKeys?: readonly string[];
}

export interface LoadedConfig {
  config: PlatformConfig;
  addressPlan: AddressPlan;
}

// Keys in other namespaces that look like credentials get a pointed message.
const CREDENTIAL_KEY = /(password|secret|token|credential|auth)/i;

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function formatPath(segments: readonly PropertyKey[]): string {
  return segments
    .map((s) => (typeof s === "number" ? `[${s}]` : `.${String(s)}`))
    .join("")
    .replace(/^\./, "");
}

export function zodProblems(error: z.ZodError, file: string, prefix: string, schema: z.ZodType): ConfigProblem[] {
  return error.issues.flatMap((issue) => {
    const base = formatPath(issue.path);
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        file,
        key: `${prefix}${base ? `${base}.` : ""}${key}`,
        message: `unknown key; allowed here: ${allowedKeysAt(schema, issue.path).join(", ")}`,
      }));
    }
    if (issue.code === "invalid_type" && issue.message.endsWith("received undefined")) {
      return [{ file, key: `${prefix}${base}`, message: `required key is missing (expected ${issue.expected})` }];
    }
    return [{ file, key: `${prefix}${base}`, message: issue.message }];
  });
}

/**
 * The parts of a zod schema's runtime definition that allowedKeysAt walks;
 * zod's public types do not expose `def` per kind, so this names just those.
 */
interface SchemaNode {
  def?: { type?: string; innerType?: unknown; in?: unknown; valueType?: unknown; element?: unknown };
  shape?: Record<string, unknown>;
}

function asSchemaNode(value: unknown): SchemaNode | undefined {
  return typeof value === "object" && value !== null ? value : undefined;
}

/** The keys the schema accepts at a path, for "what is allowed" in errors. */
function allowedKeysAt(root: z.ZodType, segments: readonly PropertyKey[]): string[] {
  let schema = asSchemaNode(root);
  for (const segment of segments) {
    schema = unwrap(schema);
    if (schema?.def?.type === "record") schema = asSchemaNode(schema.def.valueType);
    else if (schema?.def?.type === "array") schema = asSchemaNode(schema.def.element);
    else schema = asSchemaNode(schema?.shape?.[segment as string]);
  }
  schema = unwrap(schema);
  return schema?.shape ? Object.keys(schema.shape) : [];
}

function unwrap(schema: SchemaNode | undefined): SchemaNode | undefined {
  let current = schema;
  while (current?.def?.type !== undefined && ["default", "optional", "pipe", "nullable"].includes(current.def.type)) {
    current = asSchemaNode(current.def.innerType ?? current.def.in);
  }
  return current;
}

/**
 * Reads a committed YAML plan and hands it, with the file's base name for
 * error messages, to its validator; an unreadable file is a ConfigError too.
 */
export function readPlanFile<T>(file: string, validate: (raw: unknown, label: string) => T): T {
  const label = path.basename(file);
  let raw: unknown;
  try {
    raw = parseYaml(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new ConfigError([{ file: label, key: "(file)", message: `cannot read: ${(err as Error).message}` }]);
  }
  return validate(raw, label);
}

/** Schema first, then the plan's own cross-checks; all problems name the file. */
export function validatePlan<S extends z.ZodType>(
  schema: S,
  planProblems: (plan: z.output<S>) => { path: string; message: string }[],
  raw: unknown,
  file: string,
): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(zodProblems(parsed.error, file, "", schema));
  const problems = planProblems(parsed.data).map((p) => ({ file, key: p.path, message: p.message }));
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed.data;
}

export function readAddressPlan(file = ADDRESS_PLAN_FILE): AddressPlan {
  return readPlanFile(file, validateAddressPlan);
}

export function validateAddressPlan(raw: unknown, file = "address-plan.yaml"): AddressPlan {
  return validatePlan(addressPlanSchema, addressPlanProblems, raw, file);
}

/**
 * Validates a stack's configuration against the schema and the committed
 * address plan. Pure: it takes the flat values instead of reading Pulumi's
 * runtime, so tests and the offline synth run exactly the same checks.
 */
export function loadPlatformConfig(raw: RawStackConfig, addressPlan: AddressPlan): LoadedConfig {
  const problems: ConfigProblem[] = [];
  const ours: Record<string, unknown> = {};
  const prefix = `${CONFIG_NAMESPACE}:`;

  for (const [key, value] of Object.entries(raw.values)) {
    if (key.startsWith(prefix)) {
      ours[key.slice(prefix.length)] = parseValue(value);
    } else if (CREDENTIAL_KEY.test(key)) {
      problems.push({
        file: raw.file,
        key,
        message:
          "credentials stay out of stack files: use OS_* variables or clouds.yaml for OpenStack and GITHUB_TOKEN for GitHub",
      });
    } else if (!key.startsWith("pulumi:")) {
      problems.push({ file: raw.file, key, message: `unknown key; this program reads only ${prefix}* keys` });
    }
  }

  const parsed = platformConfigSchema.safeParse(ours);
  if (!parsed.success) {
    problems.push(...zodProblems(parsed.error, raw.file, prefix, platformConfigSchema));
    throw new ConfigError(problems);
  }
  const config = parsed.data;
  problems.push(...crossCheck(config, raw, addressPlan, prefix));
  if (problems.length > 0) throw new ConfigError(problems);
  return { config, addressPlan };
}

function crossCheck(config: PlatformConfig, raw: RawStackConfig, plan: AddressPlan, prefix: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (key: string, message: string) => problems.push({ file: raw.file, key: `${prefix}${key}`, message });
  const env = config.environment;

  if (raw.stack !== env && !raw.stack.startsWith(`${env}-`)) {
    add(
      "environment",
      `stack "${raw.stack}" cannot deploy environment "${env}"; name the stack ${env} or ${env}-<variant>`,
    );
  }

  const planned = plan.environments[env].sites;
  for (const [site, siteConfig] of Object.entries(config.sites)) {
    const plannedSubnet = planned[site];
    if (plannedSubnet === undefined) {
      add(
        `sites.${site}`,
        `address-plan.yaml has no subnet for ${env}/${site}; planned sites: ${Object.keys(planned).join(", ")}`,
      );
    } else if (plannedSubnet !== siteConfig.subnet) {
      add(
        `sites.${site}.subnet`,
        `${siteConfig.subnet} differs from address-plan.yaml, which gives ${env}/${site} ${plannedSubnet}`,
      );
    }
  }

  const foreign = foreignSupernets(plan, env);
  config.access.adminCidrs.forEach((cidr, i) => {
    const clash = foreign.find((other) => cidrOverlaps(cidr, other));
    if (clash) add(`access.adminCidrs[${i}]`, `${cidr} overlaps another environment's supernet ${clash}`);
  });
  for (const c of foreignAddressClashes(
    config,
    ENVIRONMENTS.filter((e) => e !== env).map((e) => ({ environment: e, supernet: plan.environments[e].supernet })),
  )) {
    if (!c.key.startsWith("access.adminCidrs")) add(c.key, c.message);
  }
  const committed = committedOwnership(REPO_ROOT);
  const ownership = repositorySettingsProblem(
    { stack: raw.stack, file: raw.file, owns: config.github.ownsRepositorySettings },
    committed,
  );
  if (ownership) add("github.ownsRepositorySettings", ownership);
  const sharedArchive = sharedArchiveProblem(
    {
      stack: raw.stack,
      file: raw.file,
      owns: config.github.ownsRepositorySettings,
      archive: archiveId(config.audit.archive.endpoint, config.audit.archive.bucket),
    },
    committed,
  );
  if (sharedArchive) add("audit.archive.bucket", sharedArchive);
  const secretProblem = plainCredentialProblem(config, raw, prefix);
  if (secretProblem) add(secretProblem.key, secretProblem.message);
  for (const p of archiveWriterProblems(config)) add(p.key, p.message);
  for (const p of backupWriterProblems(config)) add(p.key, p.message);
  for (const p of sharedWriterProblems(
    { stack: raw.stack, file: raw.file, owns: false, writerProjects: config.audit.archive.writerProjects },
    committed,
  )) {
    add(`audit.archive.writerProjects.${p.cluster}`, p.message);
  }
  for (const p of sharedWriterProblems(
    { stack: raw.stack, file: raw.file, owns: false, writerProjects: config.backups?.writerProjects ?? {} },
    committed,
  )) {
    add(`backups.writerProjects.${p.cluster}`, p.message);
  }
  return problems;
}
