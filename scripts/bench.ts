/**
 * Benchmark: median wall time and peak memory of the offline synth per stack
 * and for generated configs of 1-32 sites, beside the bare cost of loading the
 * SDKs; also the type check and the unit suite. Prints figures, asserts nothing.
 *
 *   npm run bench [-- --runs 5] [-- --quick]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { parse, stringify } from "yaml";
import { REPO_ROOT } from "../config/load";
import { formatAddress, parseCidr } from "../plan/cidr";
import { isProductionGrade } from "../config/refusals";

const ROOT = REPO_ROOT;
const { values: flags } = parseArgs({
  options: { runs: { type: "string", default: "5" }, quick: { type: "boolean", default: false } },
});
const RUNS = flags.quick ? 2 : Number(flags.runs);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "ske-bench-"));

interface Sample {
  ms: number;
  rss: number;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Sample {
  const rssFile = path.join(work, "rss");
  fs.rmSync(rssFile, { force: true });
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, BENCH_RSS_FILE: rssFile },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed:\n${result.stderr.toString()}`);
  const rss = fs.existsSync(rssFile) ? Number(fs.readFileSync(rssFile, "utf8")) : NaN;
  return { ms, rss };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

function measure(label: string, command: string, args: string[], env?: NodeJS.ProcessEnv) {
  run(command, args, env); // warm the file cache; not counted
  const samples = Array.from({ length: RUNS }, () => run(command, args, env));
  return { label, ms: median(samples.map((s) => s.ms)), rss: median(samples.map((s) => s.rss)) };
}

const node = process.execPath;
// Every case runs the way `npm run synth` does: bundled by scripts/run-ts.cjs, bundling included.
const tsNode = (script: string, ...args: string[]) => [
  "-r",
  path.join(ROOT, "scripts", "bench", "rss-probe.cjs"),
  path.join(ROOT, "scripts", "run-ts.cjs"),
  script,
  ...args,
];

/** The keys of the committed files that the generated variants rewrite; the rest is copied as it is. */
interface StackFile {
  config: Record<string, unknown> & {
    "ske-platform:sites": Record<string, object>;
    "ske-platform:clusters": { ops: { site: string } };
    "ske-platform:audit": { archive: { site: string } };
    "ske-platform:layers"?: Record<string, boolean>;
    "ske-platform:github": { ownsRepositorySettings?: boolean };
  };
}
interface AddressPlanFile {
  environments: { test: { supernet: string; sites: Record<string, string> } };
}
interface ProjectsFile {
  environments: { test: Record<string, unknown> };
}
const readYaml = <T>(file: string): T => parse(fs.readFileSync(file, "utf8")) as T;

/** A test-environment stack with `n` sites, and an address plan and a project plan that have room for them. */
function generated(n: number): { config: string; plan: string; projects: string } {
  const base = readYaml<StackFile>(path.join(ROOT, "Pulumi.test.yaml")).config;
  const plan = readYaml<AddressPlanFile>(path.join(ROOT, "address-plan.yaml"));
  const supernet = parseCidr(plan.environments.test.supernet);
  const template = base["ske-platform:sites"]["osl2"];
  const sites: Record<string, object> = {};
  const planned: Record<string, string> = {};
  const projects = readYaml<ProjectsFile>(path.join(ROOT, "openstack-projects.yaml"));
  // One generated project shared by the generated sites, as sites behind one Keystone would share it.
  const testProject = Object.values(projects.environments.test)[0];
  projects.environments.test = {};
  for (let i = 0; i < n; i++) {
    const name = `s${String(i).padStart(2, "0")}`;
    const subnet = `${formatAddress(supernet.start + i * 2048)}/21`;
    sites[name] = { ...template, region: name, subnet };
    planned[name] = subnet;
    projects.environments.test[name] = testProject;
  }
  base["ske-platform:sites"] = sites;
  base["ske-platform:clusters"].ops.site = "s00";
  base["ske-platform:audit"].archive.site = "s00";
  plan.environments.test.sites = planned;
  const config = path.join(work, `Pulumi.test-${n}.yaml`);
  const planFile = path.join(work, `address-plan-${n}.yaml`);
  fs.writeFileSync(config, stringify({ config: base }));
  fs.writeFileSync(planFile, stringify(plan));
  const projectsFile = path.join(work, `openstack-projects-${n}.yaml`);
  fs.writeFileSync(projectsFile, stringify(projects));
  return { config, plan: planFile, projects: projectsFile };
}

const out = path.join(work, "out");
const rows: Array<{ label: string; ms: number; rss: number }> = [];
const baseline = measure(
  "load SDKs only (baseline)",
  node,
  tsNode(path.join(ROOT, "scripts", "bench", "load-sdks.ts")),
);
rows.push(baseline);
for (const stack of ["production", "staging", "test"]) {
  rows.push(measure(`synth ${stack}`, node, tsNode("scripts/synth.ts", "--stack", stack, "--out", out)));
}
const bySites = new Map<number, number>();
for (const n of [1, 3, 4, 16, 32]) {
  const { config, plan, projects } = generated(n);
  const row = measure(
    `synth generated, ${n} site${n === 1 ? "" : "s"}`,
    node,
    tsNode("scripts/synth.ts", "--stack", "test", "--config", config, "--address-plan", plan, "--out", out),
    { SKE_PROJECTS_FILE: projects },
  );
  bySites.set(n, row.ms);
  rows.push(row);
}

const mib = (bytes: number) => (Number.isNaN(bytes) ? "n/a" : `${(bytes / 2 ** 20).toFixed(0)} MiB`);
const width = Math.max(...rows.map((r) => r.label.length));
console.log(`Offline synth, median of ${RUNS} runs (node ${process.version}, ${os.cpus().length} cores)`);
console.log(`${"case".padEnd(width)}  ${"wall".padStart(9)}  ${"peak RSS".padStart(9)}  ${"× baseline".padStart(10)}`);
for (const row of rows) {
  console.log(
    `${row.label.padEnd(width)}  ${`${row.ms.toFixed(0)} ms`.padStart(9)}  ${mib(row.rss).padStart(9)}  ${(row.ms / baseline.ms).toFixed(2).padStart(10)}`,
  );
}
console.log("");
console.log(
  `targets: 3-site synth / baseline = ${(bySites.get(3)! / baseline.ms).toFixed(2)} (≤ 1.5); 32 sites / 1 site = ${(bySites.get(32)! / bySites.get(1)!).toFixed(2)} (≤ 3)`,
);

// Developer-loop figures: the type check and the unit suite.
const npx = (...args: string[]) => ["npx", args] as const;
const tsc = (pkg: string) =>
  [
    process.execPath,
    [path.join(ROOT, "node_modules", pkg, "bin", "tsc"), "--noEmit", "--incremental", "false"],
  ] as const;
for (const [label, [cmd, args]] of [
  ["tsc --noEmit (TypeScript 7 native, cold)", tsc("typescript-native")],
  ["tsc --noEmit (TypeScript 5.9, cold)", tsc("typescript")],
  ["unit suite (vitest run)", npx("vitest", "run")],
] as const) {
  const samples = Array.from({ length: flags.quick ? 1 : 3 }, () => run(cmd, [...args]).ms);
  console.log(`${label}: median ${(median(samples) / 1000).toFixed(1)} s over ${samples.length} run(s)`);
}
// The real engine: `pulumi preview` through the Automation API (test/integration/engine),
// one run, beside synth of the same network-layer config. Needs the CLI from
// scripts/toolchain/build.sh; skipped with a reason otherwise.
const engine = spawnSync(
  process.execPath,
  [path.join(ROOT, "scripts", "run-ts.cjs"), path.join(ROOT, "test", "integration", "engine", "run.ts")],
  {
    cwd: ROOT,
    env: { ...process.env, SKE_ENGINE_SKIP_LAB: "1" },
    encoding: "utf8",
  },
);
const previews = [...(engine.stdout ?? "").matchAll(/^\s+([\d.]+) s {2}preview (\w+) offline \(on: network only\)$/gm)];
if (previews.length === 0) {
  console.log(
    `pulumi preview: not measured (engine tier unavailable: ${(engine.stdout + engine.stderr).trim().split("\n").slice(-2).join(" / ")})`,
  );
} else {
  console.log("\npulumi preview (real engine, one run) beside synth (median), network layer only, no cloud:");
  // Production and staging refuse a network-only variant (config/refusals.ts): the engine's preview of it is a refusal, not a measurement.
  for (const [, seconds, stack] of previews.filter(([, , name]) => !isProductionGrade(name!))) {
    const config = path.join(work, `Pulumi.${stack}-network.yaml`);
    const doc = readYaml<StackFile>(path.join(ROOT, `Pulumi.${stack}.yaml`));
    doc.config["ske-platform:layers"] = { clusters: false, bootstrap: false, kubernetes: false, github: false };
    // Without the GitHub layer no stack may claim the repository settings (policy 6.2).
    doc.config["ske-platform:github"].ownsRepositorySettings = false;
    fs.writeFileSync(config, stringify(doc));
    const synth = measure(
      `synth ${stack}, network layer`,
      node,
      tsNode("scripts/synth.ts", "--stack", stack!, "--config", config, "--out", out),
    );
    console.log(
      `  ${stack!.padEnd(10)}  preview ${(Number(seconds) * 1000).toFixed(0)} ms   synth ${synth.ms.toFixed(0)} ms   ratio ${((Number(seconds) * 1000) / synth.ms).toFixed(2)}`,
    );
  }
}
fs.rmSync(work, { recursive: true, force: true });
