import { describe, expect, it } from "vitest";
import { loadPlatformConfig, readAddressPlan } from "../config/load";
import { policyContext } from "../policy/context";
import { controlSettings } from "../policy/control-settings";
import { CONTROL_POLICIES } from "../policy/controls-on";
import { complianceVerdict, evaluatePolicies, type PolicyResult } from "../policy/evaluate";
import type { PolicyContext } from "../policy/model";
import { renderComplianceReport } from "../synth/compliance";
import { policyResources, stackOutputs } from "../synth/policy-input";
import { readStackFile } from "../config/stack-file";
import { stackFilePath, variantFile } from "./support/stacks";
import { revealedProgramRun } from "./support/program-run";

const NS = "ske-platform:";

/**
 * Runs the real program on a test-environment config (test may switch these
 * controls off, so the program builds it) and judges the result as if it were
 * `environment`: what the policies would say had the config refusal been bypassed.
 */
async function judgeAs(
  environment: PolicyContext["environment"],
  file: string,
  adjust: (ctx: PolicyContext) => PolicyContext = (c) => c,
) {
  const { run, revealed, config, addressPlan } = await revealedProgramRun(file, "test");
  const ctx = adjust({ ...policyContext(config, addressPlan), environment });
  const resources = policyResources(run.resources, revealed, "test");
  const outputs = stackOutputs(run);
  const results = evaluatePolicies({ resources, outputs }, ctx);
  const report = renderComplianceReport({
    ctx,
    results,
    resources,
    recorded: run.resources,
    outputs,
    sites: Object.keys(config.sites),
  });
  return { results, report, verdict: complianceVerdict(environment, results) };
}

const failing = (results: PolicyResult[], name: string) => {
  const result = results.find((r) => r.name === name)!;
  expect(result.status).toBe("fail");
  return result.violations.map((v) => v.message);
};

describe("controls switched off make compliance FAIL in production and staging", () => {
  it("MFA off: the config says so and the API servers accept tokens without MFA", async () => {
    const { results, report, verdict } = await judgeAs(
      "staging",
      variantFile("test", (c) => {
        c[`${NS}zitadel`].requireMfa = false;
      }),
    );
    const messages = failing(results, "mfa-required-production-grade");
    expect(messages).toContain("staging has zitadel.requireMfa switched off");
    expect(messages.some((m) => /accepts tokens without MFA \(oidc-mfa-rule is false\)/.test(m))).toBe(true);
    expect(verdict).toContain("control 6.5-audit (mfa-required-production-grade)");
    expect(report).toContain("**Verdict: FAIL.**");
    expect(report).toMatch(/`mfa-required-production-grade` \| mandatory \| FAIL/);
  }, 60_000);

  it("the Kubernetes layer off: no auditor RBAC, no collectors, no archive, no Argo CD — judged from the resources", async () => {
    // Without the config in the context, the resources alone must show it.
    const { results, verdict } = await judgeAs(
      "production",
      variantFile("test", (c) => {
        c[`${NS}layers`] = { kubernetes: false };
      }),
      (ctx) => ({ ...ctx, controls: undefined }),
    );
    const messages = failing(results, "controls-deployed-production-grade");
    expect(messages).toContain("test-osl2-ops has no auditor and platform RBAC (components/cluster-access)");
    expect(messages).toContain("test-osl2-ops ships no audit log (no audit collector)");
    expect(messages).toContain("no object-lock audit archive is deployed");
    expect(messages).toContain("Argo CD is not deployed");
    expect(verdict).toContain("controls-deployed-production-grade");
  }, 60_000);

  it.each([
    ["clusters", /no cluster is deployed/],
    ["bootstrap", /test-osl2-ops is never bootstrapped/],
    ["github", /GitHub change-management settings .* are not deployed/],
  ])(
    "the %s layer off",
    async (layer, message) => {
      const { results } = await judgeAs(
        "staging",
        variantFile("test", (c) => {
          c[`${NS}layers`] = { [layer]: false };
        }),
      );
      const messages = failing(results, "controls-deployed-production-grade");
      expect(messages).toContain(`layers.${layer} is switched off in staging`);
      expect(messages.some((m) => message.test(m))).toBe(true);
    },
    60_000,
  );

  it("a control plane without quorum", async () => {
    const { results } = await judgeAs(
      "production",
      variantFile("test", (c) => {
        c[`${NS}clusters`].ops.nodes.controlPlane = 1;
      }),
    );
    expect(failing(results, "control-plane-quorum-production-grade")).toEqual([
      "test-osl2-ops has 1 control-plane node; etcd needs an odd count of at least 3",
    ]);
  }, 60_000);

  it("a lock period too short for long-term retention, as configured and as the reconciler is told", async () => {
    // The committed test stack locks for 30 days.
    const { results } = await judgeAs("staging", stackFilePath("test"));
    const messages = failing(results, "audit-archive-long-term-lock");
    expect(messages).toContain("audit.lockDays is 30, below 365");
    expect(messages).toContain("test-audit-archive-object-lock-bucket locks archived events for 30 days, below 365");
  }, 60_000);

  it("unprotected stateful resources in staging", async () => {
    // The committed test stack leaves protection off.
    const { results } = await judgeAs("staging", stackFilePath("test"));
    expect(
      failing(results, "production-state-protected").some((m) =>
        /test-osl2-ops-cp-0 lacks protect and retainOnDelete/.test(m),
      ),
    ).toBe(true);
  }, 60_000);

  it("a second owner of the repository settings, in any environment", async () => {
    // The config refuses a second owner before the program runs; the policy judges the context built from it.
    const committed = loadPlatformConfig(readStackFile(stackFilePath("test"), "test"), readAddressPlan()).config;
    const claiming = { ...committed, github: { ...committed.github, ownsRepositorySettings: true } };
    const { results, verdict } = await judgeAs("test", stackFilePath("test"), (ctx) => ({
      ...ctx,
      controls: controlSettings(claiming),
    }));
    expect(failing(results, "repository-settings-single-owner")).toEqual([
      "Pulumi.production.yaml, Pulumi.test.yaml all own the repository settings",
    ]);
    expect(verdict).toContain("control 6.2 (repository-settings-single-owner)");
  }, 60_000);

  it("the same stacks pass when judged as test, where these switches are allowed", async () => {
    const { results } = await judgeAs(
      "test",
      variantFile("test", (c) => {
        c[`${NS}layers`] = { kubernetes: false };
        c[`${NS}zitadel`].requireMfa = false;
      }),
    );
    expect(results.filter((r) => CONTROL_POLICIES.some((p) => p.name === r.name) && r.status === "fail")).toEqual([]);
  }, 60_000);
});

describe("where the production-grade policies do not apply", () => {
  it("the test stack's report says n/a for them, not PASS", async () => {
    const { results } = await judgeAs("test", stackFilePath("test"));
    for (const name of [
      "mfa-required-production-grade",
      "controls-deployed-production-grade",
      "control-plane-quorum-production-grade",
      "audit-archive-long-term-lock",
    ]) {
      expect(results.find((r) => r.name === name)!.status).toBe("not-applicable");
    }
  }, 60_000);
});
