import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../config/load";
import { CONTROLS } from "../policy/model";
import { POLICIES } from "../policy/policies";
import { GENERATED_DOCS } from "../scripts/docs/registry";
import { policyTableMarkdown } from "../scripts/docs/policy-table";
import { scorecardTableMarkdown } from "../scripts/docs/scorecard-table";
import { IAC_REQUIRED_CHECKS, branchProtection } from "../plan/change-management";
import { assessBranchProtection } from "../plan/scorecard";
import { ARGOCD_TUNNEL_URL, GRAFANA_TUNNEL_URL } from "../stacks/gitops";

describe("documents generated from code", () => {
  it.each(Object.keys(GENERATED_DOCS))(
    "%s is current: run `npm run docs` after changing what it is generated from",
    (file) => {
      expect(fs.readFileSync(path.join(REPO_ROOT, file), "utf8")).toBe(GENERATED_DOCS[file]!());
    },
  );

  it("docs/policies.md lists every policy the pack enforces, once, under its control", () => {
    const table = policyTableMarkdown();
    for (const policy of POLICIES) {
      const rows = table.split("\n").filter((line) => line.startsWith(`| \`${policy.name}\` |`));
      expect(rows, policy.name).toHaveLength(1);
      expect(rows[0]!.split(" | ")[1], policy.name).toBe(CONTROLS[policy.control]);
    }
  });

  it("docs/scorecard.md gives, per number of approvals, the tier and score plan/scorecard.ts assesses", () => {
    const table = scorecardTableMarkdown();
    for (const approvals of [1, 2]) {
      const iac = assessBranchProtection(
        branchProtection({ requiredApprovals: approvals, requiredStatusChecks: IAC_REQUIRED_CHECKS }),
      );
      const gitops = assessBranchProtection(
        branchProtection({ requiredApprovals: approvals, requiredStatusChecks: [] }),
      );
      const row = table.split("\n").find((line) => line.startsWith(`| ${approvals} |`));
      const cells = row?.split(" | ") ?? [];
      expect(cells[1], `IaC, ${approvals} approvals`).toMatch(new RegExp(`^tier ${iac.tier}, ${iac.score}/10`));
      expect(cells[2], `GitOps, ${approvals} approvals`).toMatch(
        new RegExp(`^tier ${gitops.tier}, ${gitops.score}/10`),
      );
    }
  });

  it("docs/operations/identity-provider-apps.md gives the redirect URIs the program configures Argo CD and Grafana with", () => {
    const runbook = fs.readFileSync(path.join(REPO_ROOT, "docs", "operations", "identity-provider-apps.md"), "utf8");
    // Argo CD and Grafana append their own callback paths to the URL they are given.
    expect(runbook).toContain(`| Argo CD | none (PKCE) | \`${ARGOCD_TUNNEL_URL}/auth/callback\` |`);
    expect(runbook).toContain(`| Grafana | none (PKCE) | \`${GRAFANA_TUNNEL_URL}/login/generic_oauth\` |`);
  });
});
