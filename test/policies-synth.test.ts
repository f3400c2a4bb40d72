import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { CONTROLS } from "../policy/model";
import { ROOT, STACKS, synthOk, variantFile } from "./support/stacks";

/** A production exception that reaches into staging's supernet: config accepts it, the policies must not. */
const stagingProbe = (config: Record<string, any>) => {
  config["ske-platform:access"].publicExceptions = [
    { name: "staging-probe", reason: "probe production from staging", group: "jumphost", protocol: "tcp", port: 22, cidr: "10.33.0.0/24" },
  ];
};

describe.each(STACKS)("compliance of the committed %s stack", (stack) => {
  it("passes every mandatory policy, with each control's section in the report", async () => {
    const run = await synthOk(stack);
    const failing = run.compliance.results.filter((r) => r.status === "fail");
    expect(failing.map((r) => `${r.name}: ${r.violations.map((v) => v.message).join("; ")}`)).toEqual([]);
    expect(run.compliance.failedControls).toEqual([]);
    expect(run.summary).toContain(`Compliance of ${stack}: PASS`);
    const headings = run.compliance.report.split("\n").filter((l) => l.startsWith("## "));
    expect(headings).toEqual(Object.values(CONTROLS).map((title) => `## ${title}`));
  }, 60_000);

  it("judges the control-plane machine configs, not just their absence", async () => {
    const run = await synthOk(stack);
    const audit = run.compliance.results.find((r) => r.name === "apiserver-audit-and-oidc")!;
    expect(audit.status).toBe("pass");
    expect(audit.checked!.some((id) => /-cp-0$/.test(id))).toBe(true);
    expect(run.compliance.report).toMatch(/-cp-0 \| audit levels from Metadata up, omitStages RequestReceived, catch-all true; OIDC https:\/\/id\.ske\.example\.net with MFA claim rule/);
  }, 60_000);
});

describe("a production stack whose exception reaches into staging", () => {
  it("fails the isolation controls in synth's results and report", async () => {
    const run = await synthOk("production", variantFile("production", stagingProbe));
    expect(run.compliance.failedControls).toEqual(expect.arrayContaining(["6.3/6.4", "6.1", "6.5-testing"]));
    const isolation = run.compliance.results.find((r) => r.name === "production-admits-no-staging-or-test")!;
    expect(isolation.violations.map((v) => v.message)).toEqual([
      "production-osl2-jumphost-in-staging-probe-from-exception-10-33-0-0-24: ingress tcp/22 from 10.33.0.0/24 admits staging (10.33.0.0/16), and no configured exception covers it",
      "production-sto2-jumphost-in-staging-probe-from-exception-10-33-0-0-24: ingress tcp/22 from 10.33.0.0/24 admits staging (10.33.0.0/16), and no configured exception covers it",
    ]);
    expect(run.compliance.report).toContain("**Verdict: FAIL.**");
  }, 60_000);

  it("makes `npm run synth` exit non-zero and name the control", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "ske-synth-"));
    // Exactly what `npm run synth` runs.
    const result = spawnSync(process.execPath, [
      "scripts/run-ts.cjs", "scripts/synth.ts", "--stack", "production", "--config", variantFile("production", stagingProbe), "--out", out,
    ], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("Compliance of production: FAIL, mandatory violations of control 6.1 (rule-sources-within-plan)");
    expect(result.stderr).toContain("control 6.3/6.4 (production-admits-no-staging-or-test)");
    // The evidence is still written, so the reviewer sees why.
    expect(fs.readFileSync(path.join(out, "production", "compliance.md"), "utf8")).toContain("Remediation for `production-admits-no-staging-or-test`");
  }, 90_000);
});
