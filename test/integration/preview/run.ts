/**
 * OFFLINE PREVIEW of every committed stack with the real engine and real
 * provider plugins (npm run test:preview). Needs no lab and no credential.
 *
 *   node scripts/run-ts.cjs test/integration/preview/run.ts
 *
 * The real Pulumi CLI (scripts/toolchain/build.sh pulumi) previews
 * stacks/index.ts, run inline through the Automation API, with the plugins
 * build.sh makes: openstack, github, tls and random bridged from the upstream
 * Terraform providers, kubernetes from its Go module; `command` only through
 * the labelled TEST-ONLY provider, which answers previews and runs nothing
 * (docs/decisions/command-provider-in-previews.md). The CrossGuard pack is
 * attached exactly as `pulumi preview --policy-pack policy` attaches it.
 *
 * OpenStack: the real provider refuses a config with neither auth_url nor
 * cloud even with delayedAuth, so the plugins get OS_AUTH_URL pointing at a
 * port where nothing listens (127.0.0.1:9). Nothing else: no user, no
 * password, no token. The program's project-scope check cannot reach
 * Keystone there and says so in a warning, as it does for any offline preview.
 *
 * Per stack: preview (only creates; the creates by type equal the resources
 * synth registers under mocks; no engine type-check warning; the pack ran),
 * with the preview's and synth's wall times side by side. Then one variant
 * the pack must refuse: production with its stateful resources unprotected;
 * and production and staging with layers switched off, which config refuses.
 * Last line: `preview: N passed, M failed, 0 skipped`; exit 1 when M > 0.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import type { EngineEvent, OpMap } from "@pulumi/pulumi/automation";
import { REPO_ROOT } from "../../../config/load";
import { PRODUCTION_GRADE } from "../../../config/refusals";
import {
  dropAmbientCredentials,
  engineErrorLines,
  engineStack,
  makePluginHome,
  POLICY_PACK,
  TOOLCHAIN_PLUGINS,
  useToolchainCli,
  useToolchainPlugins,
  type EngineStackArgs,
} from "../engine/workspace";
import { checkRecorder } from "../checks";

const COMMITTED_STACKS = ["production", "staging", "test"] as const;
/** Layer sets production and staging must refuse (config/refusals.ts): the cluster layer alone, the network layer alone. */
const LAYERS_OFF = [
  { clusters: true, bootstrap: false, kubernetes: false, github: false },
  { clusters: false, bootstrap: false, kubernetes: false, github: false },
];
/** Where nothing listens: the provider gets an auth URL and never reaches anything. */
const OFFLINE_AUTH_URL = "http://127.0.0.1:9/v3";
const PACK_NAME = "ske-platform-controls";

const { outcomes, check } = checkRecorder();
const rows: string[] = [];

function fail(message: string): never {
  throw new Error(message);
}

/** Synth of a stack file, the way `npm run synth` runs it; timed; resources it registers by type. */
function synth(
  stack: string,
  configFile: string,
  out: string,
): { seconds: number; status: number | null; byType: Map<string, number>; total: number; stderr: string } {
  const started = performance.now();
  const result = spawnSync(
    process.execPath,
    [
      path.join(REPO_ROOT, "scripts", "run-ts.cjs"),
      path.join(REPO_ROOT, "scripts", "synth.ts"),
      "--stack",
      stack,
      "--config",
      configFile,
      "--out",
      out,
    ],
    { cwd: REPO_ROOT, encoding: "utf8" },
  );
  const seconds = (performance.now() - started) / 1000;
  const file = path.join(out, stack, "resources.json");
  const resources = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as { type: string }[]) : [];
  return {
    seconds,
    status: result.status,
    byType: countBy(resources.map((r) => r.type)),
    total: resources.length,
    stderr: result.stderr,
  };
}

function countBy(keys: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

interface PreviewRun {
  ok: boolean;
  seconds: number;
  ops: OpMap;
  error: string[];
  /** The engine's whole error message ("" when the preview succeeded). */
  text: string;
  /** Creates by type, without the engine's default providers (which synth does not register). */
  createsByType: Map<string, number>;
  defaultProviders: string[];
  policyPacks: Record<string, string>;
  violations: { pack: string; policy: string; level: string; message: string }[];
  warnings: string[];
  /** Error diagnostics (the engine's "preview failed" says only that). */
  errors: string[];
}

async function preview(args: EngineStackArgs): Promise<PreviewRun> {
  const engine = await engineStack(args);
  const events: EngineEvent[] = [];
  const started = performance.now();
  let ops: OpMap = {};
  let error: string[] = [];
  let text = "";
  let ok = true;
  try {
    ops = (await engine.preview({ policyPacks: [POLICY_PACK], onEvent: (e) => events.push(e) })).changeSummary;
  } catch (err) {
    ok = false;
    error = engineErrorLines(err);
    text = err instanceof Error ? err.message : String(err);
  }
  const seconds = (performance.now() - started) / 1000;
  await engine.workspace.removeStack(args.stackName, { force: true }).catch(() => undefined);

  const creates = events.flatMap((e) =>
    e.resourcePreEvent?.metadata.op === "create" ? [e.resourcePreEvent.metadata] : [],
  );
  const isDefaultProvider = (m: { type: string; urn: string }) =>
    m.type.startsWith("pulumi:providers:") && /::default(_[\d_]+)?$/.test(m.urn);
  return {
    ok,
    seconds,
    ops,
    error,
    text,
    createsByType: countBy(creates.filter((m) => !isDefaultProvider(m)).map((m) => m.type)),
    defaultProviders: creates.filter(isDefaultProvider).map((m) => m.urn.split("::").pop()!),
    policyPacks: events.find((e) => e.summaryEvent)?.summaryEvent?.policyPacks ?? {},
    violations: events.flatMap((e) =>
      e.policyEvent
        ? [
            {
              pack: e.policyEvent.policyPackName,
              policy: e.policyEvent.policyName,
              level: e.policyEvent.enforcementLevel,
              message: e.policyEvent.message,
            },
          ]
        : [],
    ),
    warnings: events.flatMap((e) =>
      e.diagnosticEvent && e.diagnosticEvent.severity === "warning" ? [e.diagnosticEvent.message.trim()] : [],
    ),
    errors: events.flatMap((e) =>
      e.diagnosticEvent && e.diagnosticEvent.severity === "error"
        ? [`${e.diagnosticEvent.urn?.split("::").pop() ?? ""}: ${e.diagnosticEvent.message.trim()}`]
        : [],
    ),
  };
}

/** Violations of one level, by policy: count and the first two messages' last lines. */
function violationSummary(p: PreviewRun, level: string): string[] {
  const byPolicy = new Map<string, string[]>();
  for (const v of p.violations.filter((x) => x.level === level))
    byPolicy.set(v.policy, [...(byPolicy.get(v.policy) ?? []), v.message.trim().split("\n").pop()!]);
  return [...byPolicy].map(
    ([policy, messages]) =>
      `${level} ${policy}: ${messages.length} violation(s), e.g. ${messages.slice(0, 2).join(" | ")}`,
  );
}

function typeDifferences(synthByType: Map<string, number>, previewByType: Map<string, number>): string[] {
  const types = [...new Set([...synthByType.keys(), ...previewByType.keys()])].sort();
  return types.flatMap((t) =>
    (synthByType.get(t) ?? 0) === (previewByType.get(t) ?? 0)
      ? []
      : [`${t}: synth ${synthByType.get(t) ?? 0}, preview ${previewByType.get(t) ?? 0}`],
  );
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

async function main(): Promise<number> {
  const started = performance.now();
  console.log(
    "== offline preview: real Pulumi CLI + inline program (stacks/index.ts) + real provider plugins + CrossGuard pack",
  );
  const dropped = dropAmbientCredentials();
  if (dropped.length > 0)
    console.log(`  dropped ambient ${dropped.join(", ")}: the previews run without any credential`);
  const version = useToolchainCli();
  const plugins = useToolchainPlugins();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ske-preview-"));
  try {
    const pluginsOk = await check(
      `provider plugins ${TOOLCHAIN_PLUGINS.join(", ")} built or cached by build.sh`,
      () => {
        if (plugins.failed.length > 0)
          fail(
            `not available: ${plugins.failed.join(", ")}\n${plugins.log
              .split("\n")
              .filter((l) => /fail|error|refus/i.test(l))
              .join("\n")}`,
          );
      },
    );
    if (!pluginsOk) return report(started);
    const home = makePluginHome(path.join(work, "pulumi-home"));
    console.log(`  pulumi ${version}; PULUMI_HOME ${home.dir}:\n    ${home.plugins.join("\n    ")}`);
    const env = { OS_AUTH_URL: OFFLINE_AUTH_URL };
    const stackArgs = (stackName: string, configFile: string): EngineStackArgs => ({
      stackName,
      configFile,
      env,
      workDir: fs.mkdtempSync(path.join(work, `project-${stackName}-`)),
      pulumiHome: home.dir,
      backendDir: path.join(work, "state"),
    });

    for (const stack of COMMITTED_STACKS) {
      console.log(`\n== ${stack}`);
      const configFile = path.join(REPO_ROOT, `Pulumi.${stack}.yaml`);
      const s = synth(stack, configFile, path.join(work, "synth"));
      const p = await preview(stackArgs(stack, configFile));
      rows.push(
        `| ${stack} | ${s.total} | ${s.seconds.toFixed(1)} s | ${sum(p.createsByType)} (+ ${p.defaultProviders.length} default providers)${p.ok ? "" : ", stopped by the pack"} | ${p.seconds.toFixed(1)} s |`,
      );
      await check(`${stack}: preview with the real plugins and the policy pack succeeds, only creates`, () => {
        if (s.status !== 0) fail(`synth exited ${s.status}: ${s.stderr}`);
        if (!p.ok)
          fail(
            [
              ...p.error,
              ...p.errors.filter((e) => !/preview failed$/.test(e)),
              ...violationSummary(p, "mandatory"),
            ].join("\n"),
          );
        const other = Object.keys(p.ops).filter((op) => op !== "create");
        if (other.length > 0) fail(`expected only creates, got ${JSON.stringify(p.ops)}`);
        return `${JSON.stringify(p.ops)} in ${p.seconds.toFixed(1)} s; synth ${s.total} resources in ${s.seconds.toFixed(1)} s`;
      });
      // A preview stopped by the pack still registered every resource: the
      // checks below judge those, so one failure does not hide the others.
      if (p.createsByType.size === 0) continue;
      await check(`${stack}: the preview creates, type by type, exactly what synth registers`, () => {
        const diff = typeDifferences(s.byType, p.createsByType);
        if (diff.length > 0) fail(diff.join("\n"));
        return `${sum(p.createsByType)} resources of ${p.createsByType.size} types; plus the engine's default providers ${p.defaultProviders.join(", ") || "none"}`;
      });
      await check(`${stack}: the CrossGuard pack ran and found no mandatory violation`, () => {
        // The summary names the packs run; a preview the pack stopped has no summary, only the pack's findings.
        const ran = PACK_NAME in p.policyPacks || p.violations.some((v) => v.pack === PACK_NAME);
        if (!ran) fail(`no sign of ${PACK_NAME}: summary lists ${JSON.stringify(p.policyPacks)}, no finding of it`);
        if (p.violations.some((v) => v.level === "mandatory")) fail(violationSummary(p, "mandatory").join("\n"));
        const advisory = violationSummary(p, "advisory");
        return `${PACK_NAME} ${p.policyPacks[PACK_NAME]}; advisory: ${advisory.join("; ") || "none"}`;
      });
      await check(`${stack}: the engine accepts every input's type (no "Type checking failed" warning)`, () => {
        const typeWarnings = p.warnings.filter((w) => /type checking failed/i.test(w));
        if (typeWarnings.length > 0) fail(typeWarnings.slice(0, 5).join("\n"));
        const other = p.warnings.filter((w) => !/project scope NOT checked/.test(w));
        return `${p.warnings.length} warning(s)${other.length ? `; other than the offline scope check: ${other.slice(0, 3).join(" / ").slice(0, 300)}` : ", all the offline project-scope notice"}`;
      });
    }

    console.log(
      "\n== the pack refuses: production with its stateful resources unprotected (allowUnprotectedProduction set, so config lets it through)",
    );
    const doc = parseYaml(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.production.yaml"), "utf8")) as {
      config: Record<string, unknown> & { "ske-platform:protection"?: Record<string, unknown> };
    };
    doc.config["ske-platform:protection"] = {
      ...doc.config["ske-platform:protection"],
      statefulResources: false,
      allowUnprotectedProduction: true,
    };
    const variantDir = fs.mkdtempSync(path.join(work, "variant-"));
    const variant = path.join(variantDir, "Pulumi.production.yaml");
    fs.writeFileSync(variant, stringifyYaml(doc));
    const s = synth("production", variant, path.join(work, "synth-variant"));
    const p = await preview(stackArgs("production", variant));
    await check(
      "unprotected production: synth exits 2 and the preview is refused by the pack's production-state-protected policy",
      () => {
        if (s.status !== 2) fail(`synth exited ${s.status}, expected 2`);
        if (p.ok) fail(`the preview succeeded: ${JSON.stringify(p.ops)}`);
        // "lacks protect": what the variant changed (the committed file keeps protect on).
        const refused = p.violations.filter(
          (v) =>
            v.policy === "production-state-protected" && v.level === "mandatory" && /lacks protect\b/.test(v.message),
        );
        if (refused.length === 0)
          fail(
            `no mandatory production-state-protected violation for a missing protect; the engine said: ${p.error.join(" / ")}`,
          );
        return `${refused.length} mandatory violation(s), e.g. "${refused[0]!.message}"`;
      },
    );

    // Production and staging keep every layer on: the config refuses a
    // variant with layers switched off, and the engine must say so, naming key and file.
    for (const stack of PRODUCTION_GRADE) {
      const committed = parseYaml(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), "utf8")) as {
        config: Record<string, unknown>;
      };
      const refused: string[] = [];
      const accepted: string[] = [];
      for (const layers of LAYERS_OFF) {
        committed.config["ske-platform:layers"] = layers;
        const file = path.join(fs.mkdtempSync(path.join(work, `layers-${stack}-`)), `Pulumi.${stack}.yaml`);
        fs.writeFileSync(file, stringifyYaml(committed));
        const v = await preview(stackArgs(stack, file));
        const on =
          Object.entries(layers)
            .filter(([, isOn]) => isOn)
            .map(([layer]) => layer)
            .join(", ") || "network only";
        (!v.ok && v.text.includes(`Pulumi.${stack}.yaml: ske-platform:layers.`) ? refused : accepted).push(on);
      }
      await check(
        `offline preview of ${stack} with layers switched off is refused by config, naming key and file`,
        () => {
          if (accepted.length > 0) fail(`not refused: ${accepted.join("; ")}`);
          return `${refused.length} variants refused (on: ${refused.join("; ")})`;
        },
      );
    }
  } catch (err) {
    outcomes.push({
      name: "preview setup",
      status: "failed",
      detail: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    console.log(`  FAIL preview setup: ${err instanceof Error ? err.stack : String(err)}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return report(started);
}

function report(started: number): number {
  if (rows.length > 0) {
    console.log("\n== synth (mocks) beside preview (real engine and plugins)");
    console.log("| stack | synth resources | synth time | preview creates | preview time |");
    console.log("|---|---|---|---|---|");
    for (const row of rows) console.log(row);
  }
  console.log(`  total ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const failed = outcomes.filter((o) => o.status === "failed");
  for (const o of failed) console.log(`  FAILED ${o.name}`);
  console.log(`preview: ${outcomes.length - failed.length} passed, ${failed.length} failed, 0 skipped`);
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    console.log("preview: 0 passed, 1 failed, 0 skipped");
    process.exit(1);
  },
);
