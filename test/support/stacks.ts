import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { synthesize, type SynthResult } from "../../synth";
import type { RecordedResource } from "../../synth/mock-runtime";
import { within } from "./timed";

export const ROOT = path.join(__dirname, "..", "..");
export const STACKS = ["production", "staging", "test"] as const;

export function stackFilePath(stack: string): string {
  return path.join(ROOT, `Pulumi.${stack}.yaml`);
}

/**
 * A stack file's `config:` section as tests edit it: any key at any depth,
 * as an operator would in the YAML. What is allowed is for the config loader
 * under test to say, so the type does not.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type StackConfig = Record<string, any>;

/** The parsed `config:` section of a committed stack file. */
export function committedConfig(stack: string): StackConfig {
  return structuredClone((parse(fs.readFileSync(stackFilePath(stack), "utf8")) as { config: StackConfig }).config);
}

/**
 * Writes a variant of a committed stack file (edited by `edit`) to a temp
 * file, as an operator would when changing one key.
 */
export function variantFile(stack: string, edit: (config: StackConfig) => void): string {
  const config = committedConfig(stack);
  edit(config);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ske-config-"));
  const file = path.join(dir, `Pulumi.${stack}.yaml`);
  fs.writeFileSync(file, stringify({ config }));
  return file;
}

// Committed stack files never change during a run: synthesize each once per test file.
const committedRuns = new Map<string, Promise<SynthResult>>();

/** Runs the real program under mocks; fails rather than hangs. */
export function synthStack(stack: string, configFile = stackFilePath(stack), ms = 20_000): Promise<SynthResult> {
  const committed = configFile === stackFilePath(stack);
  const cached = committed ? committedRuns.get(stack) : undefined;
  if (cached) return cached;
  const run = within(synthesize({ stack, configFile }), ms, `synth of ${stack}`);
  if (committed) committedRuns.set(stack, run);
  return run;
}

export async function synthOk(stack: string, configFile?: string) {
  const result = await synthStack(stack, configFile);
  if (!result.ok) throw new Error(`synth of ${stack} failed:\n${result.error}`);
  return result;
}

export function ofType(resources: readonly RecordedResource[], type: string): RecordedResource[] {
  return resources.filter((r) => r.type === type);
}
