import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { CONTROLS } from "../policy/model";
import { ROOT, STACKS, synthOk, synthStack, variantFile } from "./support/stacks";

/** A production exception that reaches into staging's supernet: refused by config; the policies judge the same rules (policies.test.ts). */
const stagingProbe = (config: Record<string, any>) => {
  config["ske-platform:access"].publicExceptions = [
    {
      name: "staging-probe",
      reason: "probe production from staging",
      group: "jumphost",
      protocol: "tcp",
      port: 22,
      cidr: "10.33.0.0/24",
    },
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
    expect(headings).toEqual([...Object.values(CONTROLS).map((title) => `## ${title}`), "## Central view"]);
  }, 60_000);

  it("judges the control-plane machine configs, not just their absence", async () => {
    const run = await synthOk(stack);
    const audit = run.compliance.results.find((r) => r.name === "apiserver-audit-and-oidc")!;
    expect(audit.status).toBe("pass");
    expect(audit.checked!.some((id) => /-cp-0-apply-config$/.test(id))).toBe(true);
    expect(run.compliance.report).toMatch(
      /-cp-0 \| audit levels from Metadata up, omitStages RequestReceived, catch-all true; OIDC https:\/\/id\.ske\.example\.net with MFA claim rule/,
    );
  }, 60_000);
});

describe("a production stack whose exception reaches into staging", () => {
  it("is refused by config, naming key and file, before any resource is registered", async () => {
    const run = await synthStack("production", variantFile("production", stagingProbe));
    expect(run.ok).toBe(false);
    if (run.ok) return;
    expect(run.error).toContain(
      "Pulumi.production.yaml: ske-platform:access.publicExceptions[0].cidr: 10.33.0.0/24 overlaps staging's supernet 10.33.0.0/16",
    );
    expect((run.registered ?? []).filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
  }, 60_000);

  it("makes `npm run synth` exit 1 and write a FAIL report naming the control", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "ske-synth-"));
    // Exactly what `npm run synth` runs.
    const result = spawnSync(
      process.execPath,
      [
        "scripts/run-ts.cjs",
        "scripts/synth.ts",
        "--stack",
        "production",
        "--config",
        variantFile("production", stagingProbe),
        "--out",
        out,
      ],
      { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("ske-platform:access.publicExceptions[0].cidr");
    const report = fs.readFileSync(path.join(out, "production", "compliance.md"), "utf8");
    expect(report).toContain("**Verdict: FAIL.**");
    expect(report).toMatch(/`ske-platform:access\.publicExceptions\[0\]\.cidr` \| 6\.1 Environment separation \|/);
    expect(fs.existsSync(path.join(out, "production", "resources.json"))).toBe(false);
  }, 90_000);
});
