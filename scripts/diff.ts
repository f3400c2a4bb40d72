/**
 * The review diff: synth each stack at a base commit and at the working
 * tree, and print what the change does to resources, security groups,
 * compliance and state that cannot be re-created.
 *
 *   npm run diff -- --stack <env> [--stack <env> …] [--base <git-ref>] [--out <dir>] [--artifact-url <url>]
 *
 * The base defaults to the merge base with `main` (or `origin/main`). It is
 * exported with `git archive` into a temporary directory and synthesized by
 * its own code; its node_modules are links to this tree's, so nothing is
 * installed. Exit codes: 0 no change, 3 changes, 4 changes that weaken a
 * control (or cannot be undone), 1 a synth failed, 64 usage.
 */
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs, promisify } from "node:util";
import { readAddressPlan, REPO_ROOT } from "../config/load";
import { ENVIRONMENTS, type EnvironmentName } from "../plan/address-plan";
import { diffSnapshots, EXIT_CODES, overallOutcome, type StackDiff } from "../synth/diff";
import { readSynthSnapshot, type SynthSnapshot } from "../synth/diff-input";
import { renderMarkdown, renderText } from "../synth/diff-render";
import { SECRET_DIGEST_KEY_ENV } from "../synth/secret-digest";

const run = promisify(execFile);

function git(args: string[], cwd = REPO_ROOT): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

function resolveBase(ref: string | undefined): { ref: string; commit: string } {
  if (ref) {
    try {
      return { ref, commit: git(["rev-parse", "--verify", `${ref}^{commit}`]) };
    } catch {
      throw new Error(`no commit named "${ref}" in ${REPO_ROOT} (a shallow clone may lack it: fetch more history)`);
    }
  }
  for (const main of ["main", "origin/main"]) {
    try {
      return { ref: `merge base of HEAD and ${main}`, commit: git(["merge-base", "HEAD", main]) };
    } catch {
      // try the next name for main
    }
  }
  throw new Error("no branch main or origin/main to take the merge base with; pass --base <git-ref>");
}

/** The base commit's tree, with this tree's dependencies linked in (not its build cache). */
function exportBase(commit: string, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const archive = execFileSync("git", ["archive", "--format=tar", commit], {
    cwd: REPO_ROOT,
    maxBuffer: 512 * 1024 * 1024,
  });
  execFileSync("tar", ["-x", "-C", dir], { input: archive });
  const modules = path.join(REPO_ROOT, "node_modules");
  fs.mkdirSync(path.join(dir, "node_modules"));
  for (const entry of fs.readdirSync(modules)) {
    // scripts/run-ts.cjs caches bundles in node_modules/.cache by file path: the base gets its own.
    if (entry === ".cache") continue;
    fs.symlinkSync(path.join(modules, entry), path.join(dir, "node_modules", entry));
  }
}

interface SynthRun {
  snapshot?: SynthSnapshot;
  /** Why there is no snapshot: the stack did not exist, or synth failed. */
  missing?: string;
  error?: string;
}

async function synthIn(tree: string, stack: string, out: string, env: NodeJS.ProcessEnv): Promise<SynthRun> {
  const stackFile = path.join(tree, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(stackFile)) return { missing: `no Pulumi.${stack}.yaml` };
  try {
    await run(
      process.execPath,
      [
        path.join(tree, "scripts", "run-ts.cjs"),
        path.join(tree, "scripts", "synth.ts"),
        "--stack",
        stack,
        "--out",
        out,
      ],
      {
        cwd: tree,
        env,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
  } catch (err) {
    const failure = err as { code?: number; stderr?: string };
    // 2 = a mandatory policy is violated: the output is written and is exactly what the diff must show.
    if (failure.code !== 2)
      return { error: `synth of ${stack} in ${tree} failed (exit ${failure.code}):\n${failure.stderr ?? String(err)}` };
  }
  return { snapshot: readSynthSnapshot(path.join(out, stack), stackFile) };
}

function emptySnapshot(environment: string): SynthSnapshot {
  return {
    environment,
    sites: [],
    resources: [],
    compliance: { verdict: "(stack absent)", failedControls: [], results: [] },
    secretConfig: {},
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      stack: { type: "string", multiple: true },
      base: { type: "string" },
      out: { type: "string", default: path.join("out", "diff") },
      "artifact-url": { type: "string" },
    },
  });
  const stacks = (values.stack ?? [])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = stacks.filter((s) => !(ENVIRONMENTS as readonly string[]).includes(s));
  if (stacks.length === 0 || unknown.length > 0) {
    process.stderr.write(
      `usage: npm run diff -- --stack <${ENVIRONMENTS.join("|")}> [--stack …] [--base <git-ref>] [--out <dir>]\n`,
    );
    if (unknown.length) process.stderr.write(`unknown stack: ${unknown.join(", ")}\n`);
    return 64;
  }
  let base;
  try {
    base = resolveBase(values.base);
  } catch (err) {
    process.stderr.write(
      `diff: cannot resolve the base: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}\n`,
    );
    return 64;
  }
  const outDir = path.resolve(values.out);
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ske-diff-"));
  const started = Date.now();
  try {
    const baseTree = path.join(tmp, "base");
    exportBase(base.commit, baseTree);
    process.stderr.write(`diff: base ${base.ref} = ${base.commit.slice(0, 12)}, head = working tree of ${REPO_ROOT}\n`);
    // One key for both sides of this run, and for no other run.
    const env = { ...process.env, [SECRET_DIGEST_KEY_ENV]: randomBytes(32).toString("hex") };
    const plan = readAddressPlan();
    const diffs: StackDiff[] = [];
    for (const stack of stacks as EnvironmentName[]) {
      const [b, h] = await Promise.all([
        synthIn(baseTree, stack, path.join(tmp, "base-out"), env),
        synthIn(REPO_ROOT, stack, path.join(tmp, "head-out"), env),
      ]);
      for (const side of [b, h]) if (side.error) throw new Error(side.error);
      if (!h.snapshot) throw new Error(`the working tree has ${h.missing}`);
      const context = {
        ownSupernet: plan.environments[stack].supernet,
        foreignSupernets: Object.fromEntries(
          ENVIRONMENTS.filter((e) => e !== stack).map((e) => [e, plan.environments[e].supernet]),
        ),
        addressPlan: plan,
      };
      const diff = diffSnapshots(b.snapshot ?? emptySnapshot(stack), h.snapshot, context);
      diffs.push(diff);
      const text = renderText(diff);
      process.stdout.write(`${text}\n\n`);
      fs.writeFileSync(path.join(outDir, `${stack}.txt`), `${text}\n`);
      fs.writeFileSync(path.join(outDir, `${stack}.json`), `${JSON.stringify(diff, null, 2)}\n`);
    }
    const outcome = overallOutcome(diffs);
    fs.writeFileSync(
      path.join(outDir, "comment.md"),
      `${renderMarkdown(diffs, values["artifact-url"] ? { artifactUrl: values["artifact-url"] } : {})}\n`,
    );
    fs.writeFileSync(
      path.join(outDir, "outcome.json"),
      `${JSON.stringify(
        {
          outcome,
          base: base.commit,
          stacks: Object.fromEntries(
            diffs.map((d) => [d.environment, { outcome: d.outcome, weakenings: d.weakenings.length }]),
          ),
        },
        null,
        2,
      )}\n`,
    );
    process.stdout.write(
      `Outcome: ${outcome} (exit ${EXIT_CODES[outcome]}); ${((Date.now() - started) / 1000).toFixed(1)} s; wrote ${path.relative(process.cwd(), outDir) || "."}/\n`,
    );
    return EXIT_CODES[outcome];
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`diff failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
