import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { IAC_REQUIRED_CHECKS, REVIEW_DIFF_GATE_CHECK } from "../plan/change-management";
import { COMMENT_MARKER, GATE_CHECK, WEAKENS_LABEL } from "../scripts/review-diff-gate.mjs";
import { WEAKENS_LABEL as RENDERED_LABEL } from "../synth/diff-render";
import { ROOT } from "./support/stacks";

const DIR = path.join(ROOT, ".github", "workflows");
const text = (file: string) => fs.readFileSync(path.join(DIR, file), "utf8");
const workflow = (file: string) => parse(text(file)) as Record<string, any>;
const steps = (job: Record<string, any>) => (job.steps ?? []) as Record<string, any>[];

describe("the untrusted review-diff workflow", () => {
  const wf = workflow("review-diff.yml");
  const job = wf.jobs["review-diff"];

  it("runs on every pull request to main, with nothing but read access to the repository", () => {
    expect(wf.on).toEqual({ pull_request: { branches: ["main"] } });
    expect(wf.permissions).toEqual({ contents: "read" });
    expect(job.permissions).toEqual({ contents: "read" });
  });

  it("holds no secret, no token and no environment, and keeps no credential in the checkout", () => {
    expect(text("review-diff.yml")).not.toMatch(/secrets\.|github\.token|GITHUB_TOKEN/);
    expect(job.environment).toBeUndefined();
    const checkout = steps(job).find((s) => String(s.uses).startsWith("actions/checkout@"))!;
    expect(checkout.with["persist-credentials"]).toBe(false);
  });

  it("diffs all three stacks against the merge's first parent and uploads the result as the review-diff artifact", () => {
    const diff = steps(job)
      .map((s) => String(s.run ?? ""))
      .find((r) => r.includes("npm run diff"))!;
    for (const stack of ["production", "staging", "test"]) expect(diff).toContain(`--stack ${stack}`);
    expect(diff).toContain("--base HEAD^1");
    expect(diff).toMatch(/case "\$code" in 0\|3\|4\) ;; \*\) exit "\$code" ;; esac/);
    const upload = steps(job).find((s) => String(s.uses).startsWith("actions/upload-artifact@"))!;
    expect(upload.with).toMatchObject({ name: "review-diff", path: "out/review-diff/", "if-no-files-found": "error" });
  });
});

describe("the trusted review-diff-comment workflow", () => {
  const wf = workflow("review-diff-comment.yml");
  const job = wf.jobs.comment;
  const script = steps(job)
    .map((s) => String(s.run ?? ""))
    .join("\n");

  it("runs when review-diff completes and when the label changes or a new push arrives, never on pull_request", () => {
    expect(wf.on).toEqual({
      workflow_run: { workflows: [workflow("review-diff.yml").name], types: ["completed"] },
      pull_request_target: { types: ["labeled", "unlabeled", "synchronize"] },
    });
  });

  it("takes the label off on every new push, so an acceptance never carries over to commits nobody saw", () => {
    expect(script).toMatch(
      /if \[ "\$ACTION" = synchronize \]; then\n\s+# [^\n]*\n\s+gh api -X DELETE "repos\/\$REPO\/issues\/\$pr\/labels\/\$LABEL"/,
    );
  });

  it("checks out only the gate script from the base branch, and installs and runs no pull-request code", () => {
    const checkout = steps(job).find((s) => String(s.uses).startsWith("actions/checkout@"))!;
    expect(checkout.with.ref).toBeUndefined();
    expect(checkout.with["sparse-checkout"]).toBe("scripts/review-diff-gate.mts");
    expect(checkout.with["persist-credentials"]).toBe(false);
    expect(script).not.toMatch(/\bnpm\b|\bnpx\b|git (fetch|checkout)|gh pr checkout/);
    expect(script).toContain("node --experimental-strip-types scripts/review-diff-gate.mts");
    // Outsider-written context only reaches the script through env, never expanded into it.
    expect(script).not.toContain("${{");
  });

  it("holds only the write permissions it uses, and no secret", () => {
    expect(job.permissions).toEqual({ contents: "read", actions: "read", checks: "write", "pull-requests": "write" });
    expect(text("review-diff-comment.yml")).not.toMatch(/secrets\./);
  });

  it("posts the check the ruleset on main requires, and keeps one comment by its marker", () => {
    expect(GATE_CHECK).toBe(REVIEW_DIFF_GATE_CHECK);
    expect(IAC_REQUIRED_CHECKS).toContain(REVIEW_DIFF_GATE_CHECK);
    expect(script).toContain(`name: "${REVIEW_DIFF_GATE_CHECK}"`);
    expect(job.steps.at(-1).env.MARKER).toBe(COMMENT_MARKER);
    expect(script).toMatch(/select\(\.login == "github-actions\[bot\]" and \(\.body \| startswith\(\$m\)\)\)/);
    expect(script).toContain('gh api -X PATCH "repos/$REPO/issues/comments/$id"');
  });

  it("uses one label name everywhere: the workflow, the gate and the comment", () => {
    expect(job.steps.at(-1).env.LABEL).toBe(WEAKENS_LABEL);
    expect(RENDERED_LABEL).toBe(WEAKENS_LABEL);
  });
});
