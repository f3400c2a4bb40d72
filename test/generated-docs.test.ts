import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../config/load";
import { POLICIES } from "../policy/policies";
import { policyTableMarkdown } from "../scripts/docs/policy-table";

describe("documents generated from code", () => {
  it("docs/policies.md is current: run `npm run docs` after changing a policy", () => {
    expect(fs.readFileSync(path.join(REPO_ROOT, "docs", "policies.md"), "utf8")).toBe(policyTableMarkdown());
  });

  it("lists every policy the pack enforces, once", () => {
    const table = policyTableMarkdown();
    for (const policy of POLICIES) expect(table.split(`| \`${policy.name}\` |`).length - 1, policy.name).toBe(1);
  });
});
