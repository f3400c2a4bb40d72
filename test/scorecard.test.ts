import { describe, expect, it } from "vitest";
import { IAC_REQUIRED_CHECKS, branchProtection, type BranchProtectionSettings } from "../plan/change-management";
import { SCORECARD_CRITERIA, assessBranchProtection } from "../plan/scorecard";

const ours = (requiredApprovals: number): BranchProtectionSettings =>
  branchProtection({ requiredApprovals, requiredStatusChecks: IAC_REQUIRED_CHECKS });

describe("OpenSSF Scorecard Branch-Protection tier of our settings", () => {
  it("reaches tier 3 with 1 required reviewer; only the second reviewer of tier 4 is missing", () => {
    const result = assessBranchProtection(ours(1));
    expect(result.tier).toBe(3);
    // Tier 4 is half met (code owners), which Scorecard prorates: 3 + 3 + 2 + 0.5.
    expect(result.score).toBe(8);
    expect(result.unmet).toEqual([
      { tier: 4, description: "require at least 2 reviewers for approval before merging" },
    ]);
  });

  it("reaches tier 5 (10/10) with 2 required reviewers and nothing unmet", () => {
    const result = assessBranchProtection(ours(2));
    expect(result.tier).toBe(5);
    expect(result.score).toBe(10);
    expect(result.unmet).toEqual([]);
  });

  it("counts nothing above an incomplete tier: allowing force pushes drops to tier 0", () => {
    const result = assessBranchProtection({ ...ours(2), blockForcePush: false });
    expect(result.tier).toBe(0);
    // Half of tier 1's three points, and none of the tiers above it although they are met.
    expect(result.score).toBe(1);
    expect(result.unmet.map((u) => u.tier)).toEqual([1]);
  });

  it("stops at tier 1 without any required status check (the GitOps repository until its checks are configured)", () => {
    // "Up to date before merging" is a tier-2 criterion and needs a status check to mean anything.
    const withoutChecks = assessBranchProtection(branchProtection({ requiredApprovals: 2, requiredStatusChecks: [] }));
    expect(withoutChecks.tier).toBe(1);
    expect(withoutChecks.unmet.map((u) => u.description)).toEqual([
      "require branch to be up to date before merging",
      "require branch to pass at least 1 status check before merging",
    ]);
  });

  it.each([
    ["requireLastPushApproval", 1],
    ["requirePullRequest", 1],
    ["requireCodeOwnerReview", 3],
    ["hasCodeOwnersFile", 3],
    ["dismissStaleReviews", 4],
    ["enforceForAdmins", 4],
    ["blockDeletion", 0],
  ] as const)("without %s the tier drops to %i", (setting, tier) => {
    expect(assessBranchProtection({ ...ours(2), [setting]: false }).tier).toBe(tier);
  });

  it("names every criterion of tiers 1 to 5", () => {
    expect([...new Set(SCORECARD_CRITERIA.map((c) => c.tier))]).toEqual([1, 2, 3, 4, 5]);
  });
});
