/**
 * Runs trivy and kube-score over every Kubernetes object the synthesized
 * stacks create and gates on the committed waiver list.
 *
 *   node scripts/run-ts.cjs scripts/scanners/scan.ts [--out out] [--stacks production,staging,test]
 *        [--waivers scripts/scanners/waivers.yaml] [--self-test]
 *
 * Reads <out>/<stack>/resources.json (written by `npm run synth -- --out <out>`),
 * writes the manifests and both scanners' raw JSON to <out>/scan/, prints the
 * counts, and exits 1 when a finding is not waived, a waiver is unexplained,
 * or (with --self-test) a scanner does not flag a deliberately bad object. The binaries come from PATH (scripts/scanners/build.sh).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import {
  gate,
  gatePasses,
  kubeScoreFindings,
  trivyFindings,
  type Finding,
  type KubeScoreReport,
  type TrivyReport,
  type Waiver,
} from "./findings";
import { manifestFileName, manifestsOf, type Manifest, type RecordedLike } from "./manifests";

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const out = path.resolve(opt("out", "out"));
const stacks = opt("stacks", "production,staging,test").split(",");
const waiverFile = path.resolve(opt("waivers", "scripts/scanners/waivers.yaml"));
const work = path.join(out, "scan");

function run(bin: string, argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(bin, argv, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new Error(`${bin}: ${r.error.message} (build it with scripts/scanners/build.sh)`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Both scanners over one directory of one-object manifests. */
function scan(dir: string, manifests: readonly Manifest[], label: string): Finding[] {
  const byFile = new Map(manifests.map((m) => [manifestFileName(m), m.object]));
  const trivyOut = path.join(work, `trivy-${label}.json`);
  // Offline: the checks embedded in the binary, no version or telemetry call.
  const t = run("trivy", [
    "config",
    "--skip-check-update",
    "--skip-version-check",
    "--disable-telemetry",
    "--quiet",
    "--format",
    "json",
    "--output",
    trivyOut,
    dir,
  ]);
  if (t.status !== 0) throw new Error(`trivy failed (${t.status}): ${t.stderr}`);
  const trivy = trivyFindings(JSON.parse(fs.readFileSync(trivyOut, "utf8")) as TrivyReport, byFile);

  const files = [...byFile.keys()].map((f) => path.join(dir, f));
  // kube-score exits 1 when it grades anything critical; its JSON is complete either way.
  const k = run("kube-score", ["score", "--output-format", "json", ...files]);
  if (k.status !== 0 && k.status !== 1) throw new Error(`kube-score failed (${k.status}): ${k.stderr}`);
  fs.writeFileSync(path.join(work, `kube-score-${label}.json`), k.stdout);
  const kubeScore = kubeScoreFindings(JSON.parse(k.stdout || "[]") as KubeScoreReport);
  return [...trivy, ...kubeScore];
}

function writeManifests(dir: string, manifests: readonly Manifest[]) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const m of manifests) fs.writeFileSync(path.join(dir, manifestFileName(m)), m.yaml);
}

/** A pod that breaks every rule we rely on: both scanners must flag it, and the gate must fail. */
const BAD_POD: RecordedLike = {
  type: "kubernetes:core/v1:Pod",
  name: "self-test-bad-pod",
  provider: "urn::x::self-test-k8s::id",
  inputs: {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "deliberately-bad", namespace: "audit-collector" },
    spec: {
      hostNetwork: true,
      containers: [
        {
          name: "shell",
          image: "busybox:latest",
          securityContext: { privileged: true, runAsUser: 0 },
          volumeMounts: [{ name: "host", mountPath: "/host" }],
        },
      ],
      volumes: [{ name: "host", hostPath: { path: "/var/lib" } }],
    },
  },
};

function selfTest(waivers: Waiver[]): boolean {
  const manifests = manifestsOf([BAD_POD]);
  const dir = path.join(work, "self-test");
  writeManifests(dir, manifests);
  const findings = scan(dir, manifests, "self-test");
  const per = (s: string) => findings.filter((f) => f.scanner === s);
  const g = gate(findings, waivers);
  const ok = per("trivy").length > 0 && per("kube-score").length > 0 && g.fresh.length > 0;
  console.log(
    `self-test: a deliberately bad pod gets ${per("trivy").length} trivy and ${per("kube-score").length} kube-score findings; ` +
      `the gate ${gatePasses(g) ? "PASSES (wrong)" : `fails with ${g.fresh.length} unwaived`}: ${ok ? "ok" : "FAILED"}`,
  );
  for (const f of [...per("trivy").slice(0, 3), ...per("kube-score").slice(0, 3)])
    console.log(`  e.g. ${f.scanner} ${f.check} ${f.object}: ${f.title}`);
  return ok;
}

function main(): number {
  const started = Date.now();
  fs.mkdirSync(work, { recursive: true });
  const waivers = (parse(fs.readFileSync(waiverFile, "utf8")) as { waivers?: Waiver[] } | null)?.waivers ?? [];
  const all: Finding[] = [];
  let objects = 0;
  for (const stack of stacks) {
    const file = path.join(out, stack, "resources.json");
    if (!fs.existsSync(file)) {
      console.error(
        `scan: ${file} is missing; run \`npm run synth -- --stack ${stack} --out ${path.relative(process.cwd(), out) || "."}\` first`,
      );
      return 2;
    }
    const manifests = manifestsOf(JSON.parse(fs.readFileSync(file, "utf8")) as RecordedLike[]);
    objects += manifests.length;
    const dir = path.join(work, stack);
    writeManifests(dir, manifests);
    const findings = scan(dir, manifests, stack);
    console.log(
      `${stack}: ${manifests.length} objects (${manifests.filter((m) => m.source === "values").length} rendered from chart values), ${findings.length} findings`,
    );
    all.push(...findings);
  }
  const g = gate(all, waivers);
  const count = (list: Finding[], s: string) => list.filter((f) => f.scanner === s).length;
  fs.writeFileSync(path.join(work, "findings.yaml"), stringify({ fresh: g.fresh, waived: g.waived, stale: g.stale }));
  for (const f of g.fresh) console.log(`NEW ${f.scanner} ${f.check} ${f.severity} ${f.object}: ${f.title}`);
  for (const w of g.stale)
    console.log(
      `idle waiver ${w.scanner} ${w.check} ${w.object}: nothing matches it in this run; remove it once no configuration needs it`,
    );
  for (const p of g.problems) console.log(`WAIVER ${p}`);
  console.log(
    `scanners: ${objects} objects; unique findings trivy ${count(g.findings, "trivy")}, kube-score ${count(g.findings, "kube-score")}; ` +
      `waived ${g.waived.length}, new ${g.fresh.length}, idle waivers ${g.stale.length} (${((Date.now() - started) / 1000).toFixed(1)}s)`,
  );
  let ok = gatePasses(g);
  if (args.includes("--self-test")) ok = selfTest(waivers) && ok;
  return ok ? 0 : 1;
}

process.exitCode = main();
