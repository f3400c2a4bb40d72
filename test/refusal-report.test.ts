import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { controlOfProblem, refusalReport } from "../synth/refusal-report";
import { ROOT, variantFile } from "./support/stacks";

const problem = (key: string, message = "refused") => ({
  file: "Pulumi.staging.yaml",
  key: `ske-platform:${key}`,
  message,
});

describe("a refused stack's compliance report", () => {
  it("names the control each refused key protects", () => {
    expect(controlOfProblem(problem("zitadel.requireMfa"))).toBe("6.5-audit");
    expect(controlOfProblem(problem("layers.kubernetes"))).toBe("6.5-audit");
    expect(controlOfProblem(problem("audit.lockDays"))).toBe("6.5-audit");
    expect(controlOfProblem(problem("github.ownsRepositorySettings"))).toBe("6.2");
    expect(controlOfProblem(problem("sites.sto2.nodes.controlPlane"))).toBe("6.2");
    expect(controlOfProblem(problem("access.publicExceptions[0].cidr"))).toBe("6.1");
    // An address reaching another environment is separation, whichever key holds it.
    expect(
      controlOfProblem(problem("audit.archive.endpoint", "https://10.33.0.9 overlaps staging's supernet 10.33.0.0/16")),
    ).toBe("6.1");
    expect(controlOfProblem(problem("clusters.talosVersion"))).toBeUndefined();
  });

  it("says FAIL, for refused config and for a failed program alike", () => {
    expect(refusalReport("staging", "x", [problem("zitadel.requireMfa", "MFA cannot be switched off")])).toContain(
      "| Pulumi.staging.yaml | `ske-platform:zitadel.requireMfa` | 6.5 Audit-trail protection | MFA cannot be switched off |",
    );
    expect(refusalReport("staging", "renderer refuses 1.14.0")).toMatch(
      /\*\*Verdict: FAIL\.\*\* The program failed[\s\S]*renderer refuses 1\.14\.0/,
    );
  });

  it("replaces an earlier run's PASS report and leaves no stale resources behind", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "ske-out-"));
    const synth = (config: string) =>
      spawnSync(
        process.execPath,
        ["scripts/run-ts.cjs", "scripts/synth.ts", "--stack", "test", "--config", config, "--out", out],
        { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
      );
    expect(synth(path.join(ROOT, "Pulumi.test.yaml")).status).toBe(0);
    expect(fs.readFileSync(path.join(out, "test", "compliance.md"), "utf8")).toContain("**Verdict: PASS.**");

    const refused = synth(
      variantFile("test", (c) => {
        c["ske-platform:zitadel"].groupsPrefix = "system:";
      }),
    );
    expect(refused.status).toBe(1);
    const report = fs.readFileSync(path.join(out, "test", "compliance.md"), "utf8");
    expect(report).toContain("**Verdict: FAIL.**");
    expect(report).not.toContain("PASS");
    expect(report).toContain("`ske-platform:zitadel.groupsPrefix` | 6.5 Audit-trail protection");
    expect(fs.readdirSync(path.join(out, "test"))).toEqual(["compliance.md"]);
  }, 90_000);
});
