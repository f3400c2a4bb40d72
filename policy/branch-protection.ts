/** Control 6.2: the repository ruleset that guards the protected branch. */
import { at, resourceId, type PolicyResource, type StackPolicy, type Violation } from "./model";
import { TYPES } from "./resource-types";

const CODEOWNERS_PATHS = new Set([".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"]);

/** Whether each 6.2 requirement holds for one ruleset, as messages for the unmet ones. */
export function rulesetShortfalls(ruleset: PolicyResource): string[] {
  const p = ruleset.props;
  const problems: string[] = [];
  const need = (ok: boolean, message: string) => {
    if (!ok) problems.push(message);
  };
  const includes = at(p, ["conditions", "refName", "includes"]);
  const pr = at(p, ["rules", "pullRequest"]) as Record<string, unknown> | undefined;
  need(p.target === "branch", `target is ${String(p.target)}, not branch`);
  need(p.enforcement === "active", `enforcement is ${String(p.enforcement)}, not active`);
  need(
    Array.isArray(includes) && includes.some((ref) => ref === "refs/heads/main" || ref === "~DEFAULT_BRANCH"),
    "does not cover main",
  );
  need(typeof pr === "object" && pr !== null, "does not require a pull request");
  if (pr && typeof pr === "object") {
    need(
      typeof pr.requiredApprovingReviewCount === "number" && pr.requiredApprovingReviewCount >= 1,
      "requires no approving review",
    );
    need(pr.requireCodeOwnerReview === true, "does not require code-owner (team) review");
    need(
      pr.requireLastPushApproval === true,
      "lets the author of the last push approve it (requireLastPushApproval is off)",
    );
  }
  need(Array.isArray(p.bypassActors) && p.bypassActors.length === 0, "has bypass actors");
  need(at(p, ["rules", "nonFastForward"]) === true, "allows force pushes");
  need(at(p, ["rules", "deletion"]) === true, "allows deleting main");
  return problems;
}

export const branchProtection: StackPolicy = {
  kind: "stack",
  name: "branch-protection-6-2",
  control: "6.2",
  enforcement: "mandatory",
  description:
    "main is protected at the 6.2 level: pull request, at least one approval by a team code owner other than the last pusher, no bypass, no force push or deletion.",
  remediation:
    "Restore the ruleset built by plan/change-management.ts (branchProtection) and the CODEOWNERS file naming the team; set github.ownsRepositorySettings in exactly one stack.",
  validate: ({ resources }, ctx) => {
    const rulesets = resources.filter((r) => r.type === TYPES.ruleset);
    const violations: Violation[] = [];
    if (ctx.ownsRepositorySettings && rulesets.length === 0) {
      violations.push({
        message: `${ctx.environment} owns the repository settings but declares no RepositoryRuleset for main`,
      });
    }
    const codeOwnersIn = new Set(
      resources
        .filter((r) => r.type === TYPES.repositoryFile && CODEOWNERS_PATHS.has(String(r.props.file)))
        .map((r) => String(r.props.repository)),
    );
    for (const ruleset of rulesets) {
      const problems = rulesetShortfalls(ruleset);
      if (
        at(ruleset.props, ["rules", "pullRequest", "requireCodeOwnerReview"]) === true &&
        !codeOwnersIn.has(String(ruleset.props.repository))
      ) {
        problems.push(
          `requires code-owner review but no CODEOWNERS file is managed for ${String(ruleset.props.repository)}, so any reviewer counts`,
        );
      }
      violations.push(
        ...problems.map((message) => ({
          resource: resourceId(ruleset),
          message: `ruleset ${ruleset.name}: ${message}`,
        })),
      );
    }
    return violations;
  },
};
