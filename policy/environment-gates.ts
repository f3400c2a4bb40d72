/**
 * The two-person rule on deployment environments (control 6.2). The
 * workflows reach staging and production credentials only through these
 * environments (test/ci-two-person-rule.test.ts checks the workflow side);
 * this policy fails the stack when an environment stops gating them.
 */
import {
  PROTECTED_BRANCH,
  deployEnvironmentName,
  driftEnvironmentName,
  previewEnvironmentName,
} from "../plan/change-management";
import { at, isOpaque, resourceId, type PolicyResource, type StackPolicy, type Violation } from "./model";

export const ENVIRONMENT_TYPES = {
  environment: "github:index/repositoryEnvironment:RepositoryEnvironment",
  deploymentPolicy: "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
} as const;

/** Whether at least one team or user must approve. */
function hasReviewers(env: PolicyResource): boolean | "unknown" {
  const reviewers = env.props.reviewers;
  if (isOpaque(reviewers)) return "unknown";
  if (!Array.isArray(reviewers)) return false;
  return reviewers.some((r: Record<string, unknown>) =>
    [r?.teams, r?.users].some((ids) => Array.isArray(ids) && ids.length > 0),
  );
}

export const environmentGates: StackPolicy = {
  kind: "stack",
  name: "environments-two-person-6-2",
  control: "6.2",
  enforcement: "mandatory",
  description:
    "Staging and production credentials wait for a second team member: their deploy and preview environments require the team's approval with self-review prevented; deploy and drift environments serve main only; no environment lets admins bypass.",
  remediation:
    "Restore deploymentEnvironments() in plan/change-management.ts (teamReview, preventSelfReview, canAdminsBypass false, allowedBranches [main]) and apply it through components/change-management.",
  validate: ({ resources }, ctx) => {
    const violations: Violation[] = [];
    const gated = ctx.environment !== "test";
    const patterns = new Map<string, string[]>();
    for (const p of resources.filter((r) => r.type === ENVIRONMENT_TYPES.deploymentPolicy)) {
      const key = `${String(p.props.repository)}:${String(p.props.environment)}`;
      patterns.set(key, [...(patterns.get(key) ?? []), String(p.props.branchPattern)]);
    }
    for (const env of resources.filter((r) => r.type === ENVIRONMENT_TYPES.environment)) {
      const name = String(env.props.environment);
      const id = resourceId(env);
      const problems: string[] = [];
      if (env.props.canAdminsBypass !== false)
        problems.push("admins can bypass its protection (canAdminsBypass is not false)");

      const branches = patterns.get(`${String(env.props.repository)}:${name}`) ?? [];
      const custom =
        at(env.props, ["deploymentBranchPolicy", "customBranchPolicies"]) === true &&
        at(env.props, ["deploymentBranchPolicy", "protectedBranches"]) === false;
      const mainOnly = custom && branches.length === 1 && branches[0] === PROTECTED_BRANCH;
      const reviewers = hasReviewers(env);
      const reviewed = reviewers === true && env.props.preventSelfReview === true;

      const isDeploy = name === deployEnvironmentName(ctx.environment);
      const isPreview = name === previewEnvironmentName(ctx.environment);
      const isDrift = name === driftEnvironmentName(ctx.environment);
      if ((isDeploy || isDrift) && !mainOnly)
        problems.push(
          `must serve ${PROTECTED_BRANCH} only (branch patterns: ${branches.join(", ") || "none"}, custom policy ${custom})`,
        );
      if (gated && (isDeploy || isPreview) && !reviewed) {
        problems.push(
          reviewers === "unknown"
            ? "its reviewers are not known at preview"
            : "must require the team's approval with self-review prevented",
        );
      }
      if (gated && !isDeploy && !isPreview && !isDrift && !reviewed && !mainOnly) {
        problems.push(`serves any branch with no second person's approval in ${ctx.environment}`);
      }
      violations.push(...problems.map((message) => ({ resource: id, message: `environment ${name}: ${message}` })));
    }
    return violations;
  },
};
