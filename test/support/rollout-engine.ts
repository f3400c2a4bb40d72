/**
 * Runs the roll-out steps a synth recorded the way the Pulumi engine would
 * during `pulumi up`: in dependency order (options.dependsOn), each changed
 * step's update script under /bin/sh with the step's environment, nothing
 * started after the first failure. talosctl is the recording stand-in
 * (test/support/talosctl-recording-standin); secrets are replaced by marked
 * placeholders so a test can look for them on every command line.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { rolloutStdin } from "../../components/cluster/rollout-scripts";
import type { RecordedResource } from "../../synth/mock-runtime";

export const STANDIN = path.join(__dirname, "talosctl-recording-standin");
export const SECRET_MARK = "PLACEHOLDER-SECRET-";

export const STEP_KIND = /-(talos-upgrade|kubernetes-upgrade|apply-config)$/;

export interface Invocation {
  argv: string[];
  talosconfigMode?: string;
  fileMode?: string;
}

export interface StepRun {
  name: string;
  ok: boolean;
  stdout: string;
  stderr: string;
  /** talosctl invocations made by this step. */
  calls: Invocation[];
}

export interface EngineRun {
  steps: StepRun[];
  /** The step that failed, if any: the engine stops there. */
  failed?: StepRun;
  /** Every talosctl invocation, in order. */
  calls: Invocation[];
}

export const isStep = (r: RecordedResource) => r.type === "command:local:Command" && STEP_KIND.test(r.name);

/** Steps in an order the engine may run them: every step after all it depends on (stable for equal depth). */
export function dependencyOrder(resources: readonly RecordedResource[]): RecordedResource[] {
  const steps = resources.filter(isStep);
  const byName = new Map(steps.map((s) => [s.name, s]));
  const depth = new Map<string, number>();
  const depthOf = (s: RecordedResource, seen: Set<string>): number => {
    const known = depth.get(s.name);
    if (known !== undefined) return known;
    if (seen.has(s.name)) throw new Error(`dependency cycle through ${s.name}`);
    seen.add(s.name);
    const deps = s.options.dependsOn.map((d) => byName.get(d)).filter((d): d is RecordedResource => d !== undefined);
    const d = deps.length === 0 ? 0 : 1 + Math.max(...deps.map((x) => depthOf(x, seen)));
    depth.set(s.name, d);
    return d;
  };
  steps.forEach((s) => depthOf(s, new Set()));
  return [...steps].sort((a, b) => depth.get(a.name)! - depth.get(b.name)!);
}

function parseLog(text: string): Invocation[] {
  const out: Invocation[] = [];
  let current: Invocation = { argv: [] };
  for (const line of text.split("\n")) {
    if (line.startsWith("arg ")) current.argv.push(line.slice(4));
    else if (line.startsWith("talosconfig-mode ")) current.talosconfigMode = line.slice(17);
    else if (line.startsWith("file-mode ")) current.fileMode = line.slice(10);
    else if (line === "end") {
      out.push(current);
      current = { argv: [] };
    }
  }
  return out;
}

function environmentOf(step: RecordedResource): Record<string, string> {
  const env = (step.inputs.environment ?? {}) as Record<string, unknown>;
  if (typeof env !== "object") throw new Error(`${step.name}: its environment is not plain (${String(env)})`);
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

/** Synth redacts the secret stdin; the placeholders stand where the talosconfig and machine config go. */
export const PLACEHOLDERS = { talosconfig: `${SECRET_MARK}talosconfig`, machineConfig: `${SECRET_MARK}machine-config` };

function stdinOf(step: RecordedResource): string {
  if (step.inputs.stdin !== "[secret]")
    throw new Error(`${step.name}: stdin must be a secret, got ${JSON.stringify(step.inputs.stdin)}`);
  return rolloutStdin(
    PLACEHOLDERS.talosconfig,
    step.name.endsWith("-apply-config") ? PLACEHOLDERS.machineConfig : undefined,
  );
}

/** The script the engine runs for a step: its update script (create runs the same), or its delete script. */
function scriptFor(step: RecordedResource, operation: "update" | "delete"): string {
  const recorded = step.inputs[operation === "delete" ? "delete" : "update"];
  if (typeof recorded === "string") return recorded;
  throw new Error(`${step.name} records no ${operation} script`);
}

export interface RunOptions {
  /** Which steps the engine updates (inputs changed); the others are no-ops. Default: all. */
  changed?: (step: RecordedResource) => boolean;
  /** Steps to run their delete script instead (removed nodes), in reverse dependency order, after the updates. */
  deleted?: readonly RecordedResource[];
  standin?: Record<string, string>;
}

export function runRollout(resources: readonly RecordedResource[], options: RunOptions = {}): EngineRun {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ske-rollout-"));
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  fs.symlinkSync(STANDIN, path.join(bin, "talosctl"));
  const log = path.join(dir, "talosctl.log");
  fs.writeFileSync(log, "");
  const run: EngineRun = { steps: [], calls: [] };
  const execute = (step: RecordedResource, operation: "update" | "delete"): boolean => {
    const before = parseLog(fs.readFileSync(log, "utf8")).length;
    const result = spawnSync("/bin/sh", ["-c", scriptFor(step, operation)], {
      env: {
        PATH: `${bin}:/usr/bin:/bin`,
        TMPDIR: dir,
        TALOSCTL_STANDIN_LOG: log,
        SKE_GATE_ATTEMPTS: "2",
        SKE_GATE_INTERVAL: "0",
        ...environmentOf(step),
        ...options.standin,
      },
      input: stdinOf(step),
      encoding: "utf8",
      timeout: 30_000,
    });
    const calls = parseLog(fs.readFileSync(log, "utf8")).slice(before);
    const stepRun: StepRun = {
      name: `${step.name}${operation === "delete" ? " (delete)" : ""}`,
      ok: result.status === 0,
      stdout: result.stdout,
      stderr: result.stderr,
      calls,
    };
    run.steps.push(stepRun);
    run.calls.push(...calls);
    if (!stepRun.ok) run.failed = stepRun;
    return stepRun.ok;
  };
  for (const step of dependencyOrder(resources)) {
    if (options.changed && !options.changed(step)) continue;
    if (!execute(step, "update")) return run;
  }
  for (const step of [...dependencyOrder(options.deleted ?? [])].reverse()) {
    if (!execute(step, "delete")) return run;
  }
  return run;
}

/** The subcommand words of an invocation (global flags and their values removed). */
export function subcommand(call: Invocation): string {
  const words: string[] = [];
  const valued = new Set(["--talosconfig", "--endpoints", "--nodes", "-e", "-n"]);
  for (let i = 0; i < call.argv.length; i++) {
    const a = call.argv[i]!;
    if (valued.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith("-")) break;
    words.push(a);
  }
  return words.join(" ");
}

export const nodeOf = (call: Invocation) => call.argv[call.argv.indexOf("--nodes") + 1];
