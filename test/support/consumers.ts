/**
 * Shared plumbing for the tests that hand generated files to their real
 * consumers (haproxy, keepalived, sshd, the strict Kubernetes decoder): where
 * each binary is, what happens when it is missing, and the scratch directory
 * the rendered text may touch.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { revealSecrets } from "../../synth/mock-runtime";
import { revealedProgramRun } from "./program-run";
import { STACKS, stackFilePath } from "./stacks";

/** Debian installs these daemons in /usr/sbin, which a non-root PATH often lacks. */
export function findBinary(name: string, extra: readonly string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter), "/usr/sbin", "/sbin"];
  for (const candidate of [...extra, ...dirs.filter(Boolean).map((d) => path.join(d, name))]) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/**
 * Whether a consumer's tests run. Locally a missing consumer skips them (and
 * the skip names why); under CI=true it runs them, so they fail on `missing`:
 * CI installs every consumer, and a check that silently stops running is
 * the failure this guards against.
 */
export function consumerGate(binary: string | undefined, howToGet: string) {
  const ci = process.env.CI === "true";
  const skip = binary === undefined && !ci;
  if (skip) console.warn(`skipping the checks by ${howToGet}: not found (under CI=true they fail instead)`);
  return {
    skip,
    missing: binary === undefined ? `${howToGet} (not found; CI=${process.env.CI ?? "unset"})` : undefined,
  };
}

export function assertPresent(gate: { missing: string | undefined }): void {
  if (gate.missing) throw new Error(`consumer missing: ${gate.missing}`);
}

/**
 * A 0700 directory for rendered text that may hold secrets, removed by the
 * returned function (call it from afterAll).
 */
export function scratchDir(prefix: string): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o700);
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function run(binary: string, args: readonly string[], input?: string) {
  const result = spawnSync(binary, args, { encoding: "utf8", input, maxBuffer: 64 << 20 });
  return {
    status: result.status,
    output: `${result.stdout ?? ""}${result.stderr ?? ""}`,
    stdout: result.stdout ?? "",
    error: result.error,
  };
}

/** One resource as the engine would receive it from the real program, secrets revealed. */
export interface RevealedResource {
  stack: string;
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

const runs = new Map<string, Promise<RevealedResource[]>>();

/** Every resource of a committed stack, secrets in the clear; one program run per stack and test file. */
export function revealedResources(stack: string): Promise<RevealedResource[]> {
  let cached = runs.get(stack);
  if (!cached) {
    cached = revealedProgramRun(stackFilePath(stack), stack).then(({ revealed }) =>
      [...revealed].map(([key, inputs]) => {
        const [type, name] = key.split("::") as [string, string];
        return { stack, type, name, inputs: revealSecrets(inputs) as Record<string, unknown> };
      }),
    );
    runs.set(stack, cached);
  }
  return cached;
}

export const INSTANCE = "openstack:compute/instance:Instance";

/** A file a cloud-config user data writes, with the instance it belongs to. */
export interface WrittenFile {
  stack: string;
  instance: string;
  path: string;
  content: string;
  runcmd: unknown[];
}

/** Every file any instance's `#cloud-config` user data writes, across all committed stacks. */
export async function cloudConfigFiles(): Promise<WrittenFile[]> {
  const files: WrittenFile[] = [];
  for (const stack of STACKS) {
    for (const r of await revealedResources(stack)) {
      const userData = r.inputs["userData"];
      if (r.type !== INSTANCE || typeof userData !== "string" || !userData.startsWith("#cloud-config\n")) continue;
      const doc = parse(userData) as { write_files?: { path: string; content: string }[]; runcmd?: unknown[] };
      for (const f of doc.write_files ?? []) {
        files.push({ stack, instance: r.name, path: f.path, content: f.content, runcmd: doc.runcmd ?? [] });
      }
    }
  }
  return files;
}
