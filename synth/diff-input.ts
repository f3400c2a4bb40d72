/**
 * What `npm run diff` compares: one stack's synth output, read back from the
 * files synth writes (`resources.json`, `compliance.json`), so a base built
 * from an older commit needs nothing but that commit's own synth.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import type { ComplianceOutcome } from "./compliance-run";
import type { DigestedResource } from "./secret-digest";

export interface PolicyOutcome {
  name: string;
  control: string;
  enforcement: string;
  /** pass | fail | advisory | not-applicable */
  status: string;
  violations: string[];
}

export interface ComplianceRecord {
  verdict: string;
  failedControls: string[];
  results: PolicyOutcome[];
}

export interface SynthSnapshot {
  environment: string;
  sites: string[];
  resources: DigestedResource[];
  compliance: ComplianceRecord;
  /**
   * Per `secure:` key of the stack file, a digest of its ciphertext. The
   * ciphertext is committed anyway; its digest only says whether it changed.
   */
  secretConfig: Record<string, string>;
}

/** The part of the policy run that `compliance.json` keeps: results, not the evidence. */
export function complianceRecord(outcome: ComplianceOutcome): ComplianceRecord {
  return {
    verdict: outcome.verdict,
    failedControls: outcome.failedControls,
    results: outcome.results.map((r) => ({
      name: r.name,
      control: r.control,
      enforcement: r.enforcement,
      status: r.status,
      violations: r.violations.map((v) => (v.resource ? `${v.resource}: ${v.message}` : v.message)),
    })),
  };
}

/**
 * Commits older than `compliance.json` wrote only `compliance.md`; its policy
 * tables (`| \`name\` | level | RESULT | detail |`) and verdict line are enough.
 */
export function complianceFromMarkdown(markdown: string): ComplianceRecord {
  const results: PolicyOutcome[] = [];
  let control = "";
  for (const line of markdown.split("\n")) {
    const heading = /^## (\S+)/.exec(line);
    if (heading) control = heading[1]!;
    const row = /^\| `([\w-]+)` \| (mandatory|advisory) \| ([A-Za-z/-]+) \|/.exec(line);
    if (!row) continue;
    const status = row[3]!.toLowerCase();
    results.push({
      name: row[1]!,
      control,
      enforcement: row[2]!,
      status: status === "n/a" ? "not-applicable" : status,
      violations: [],
    });
  }
  const verdict = /^\*\*Verdict: (\w+)/m.exec(markdown)?.[1] ?? "unknown";
  return { verdict: `Verdict: ${verdict}`, failedControls: [], results };
}

function secureValues(value: unknown, at: string, out: Record<string, string>): void {
  if (typeof value !== "object" || value === null) return;
  if (!Array.isArray(value) && Object.keys(value).length === 1 && "secure" in value) {
    out[at] = `sha256:${createHash("sha256").update(String(value.secure)).digest("hex")}`;
    return;
  }
  for (const [k, v] of Object.entries(value)) secureValues(v, Array.isArray(value) ? `${at}[${k}]` : `${at}.${k}`, out);
}

/** Digests of every `secure:` value in a stack file, by config key path. */
export function secretConfigDigests(stackFileText: string): Record<string, string> {
  const doc = (parseYaml(stackFileText) ?? {}) as { config?: Record<string, unknown> };
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) secureValues(value, key, out);
  return out;
}

/** Reads `<dir>/resources.json` and the compliance result written by one synth. */
export function readSynthSnapshot(dir: string, stackFile: string): SynthSnapshot {
  const resources = JSON.parse(fs.readFileSync(path.join(dir, "resources.json"), "utf8")) as DigestedResource[];
  const jsonFile = path.join(dir, "compliance.json");
  const compliance = fs.existsSync(jsonFile)
    ? (JSON.parse(fs.readFileSync(jsonFile, "utf8")) as ComplianceRecord)
    : complianceFromMarkdown(fs.readFileSync(path.join(dir, "compliance.md"), "utf8"));
  const outputs = JSON.parse(fs.readFileSync(path.join(dir, "outputs.json"), "utf8")) as {
    environment?: string;
    sites?: Record<string, unknown>;
  };
  return {
    environment: outputs.environment ?? path.basename(dir),
    sites: Object.keys(outputs.sites ?? {}),
    resources,
    compliance,
    secretConfig: fs.existsSync(stackFile) ? secretConfigDigests(fs.readFileSync(stackFile, "utf8")) : {},
  };
}

/** The snapshot of an in-process synth, as the tests take it. */
export function snapshotOf(
  result: { environment: string; sites: string[]; resources: DigestedResource[]; compliance: ComplianceOutcome },
  stackFileText: string,
): SynthSnapshot {
  return {
    environment: result.environment,
    sites: result.sites,
    resources: result.resources,
    compliance: complianceRecord(result.compliance),
    secretConfig: secretConfigDigests(stackFileText),
  };
}
