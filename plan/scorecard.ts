/**
 * What OpenSSF Scorecard's Branch-Protection check would make of our branch
 * protection, assessed from the settings we declare rather than from the API.
 *
 * The check is tiered: a tier counts only when every lower tier is complete,
 * and points inside the first incomplete tier are prorated by weight. The
 * criteria and weights follow Scorecard's published tiers (docs/checks.md)
 * and its evaluation (checks/evaluation/branch_protection.go), assuming an
 * admin token so that the "for administrators" criteria are visible.
 */
import type { BranchProtectionSettings } from "./change-management";

export type ScorecardTier = 1 | 2 | 3 | 4 | 5;

export interface ScorecardCriterion {
  tier: ScorecardTier;
  /** Scorecard's own wording, so a finding can be matched to its report. */
  description: string;
  /** Share of the tier's points: the reviewer requirement of tier 2 counts twice. */
  weight: number;
  met: (settings: BranchProtectionSettings) => boolean;
}

/** Points a complete tier adds to the 0–10 score. */
const TIER_POINTS: Record<ScorecardTier, number> = { 1: 3, 2: 3, 3: 2, 4: 1, 5: 1 };

export const SCORECARD_CRITERIA: readonly ScorecardCriterion[] = [
  { tier: 1, weight: 1, description: "prevent force push", met: (s) => s.blockForcePush },
  { tier: 1, weight: 1, description: "prevent branch deletion", met: (s) => s.blockDeletion },
  {
    tier: 2,
    weight: 2,
    description: "require at least 1 reviewer for approval before merging",
    met: (s) => s.requirePullRequest && s.requiredApprovals >= 1,
  },
  {
    tier: 2,
    weight: 1,
    description: "require pull requests prior to any code change",
    met: (s) => s.requirePullRequest,
  },
  {
    tier: 2,
    weight: 1,
    description: "require branch to be up to date before merging",
    met: (s) => s.requireUpToDateBranch && s.requiredStatusChecks.length > 0,
  },
  {
    tier: 2,
    weight: 1,
    description: "require approval of the most recent reviewable push",
    met: (s) => s.requirePullRequest && s.requireLastPushApproval,
  },
  {
    tier: 3,
    weight: 1,
    description: "require branch to pass at least 1 status check before merging",
    met: (s) => s.requiredStatusChecks.length > 0,
  },
  {
    tier: 4,
    weight: 1,
    description: "require at least 2 reviewers for approval before merging",
    met: (s) => s.requirePullRequest && s.requiredApprovals >= 2,
  },
  {
    tier: 4,
    weight: 1,
    description: "require review from code owners (with a CODEOWNERS file present)",
    met: (s) => s.requirePullRequest && s.requireCodeOwnerReview && s.hasCodeOwnersFile,
  },
  {
    tier: 5,
    weight: 1,
    description: "dismiss stale reviews and approvals when new commits are pushed",
    met: (s) => s.requirePullRequest && s.dismissStaleReviews,
  },
  {
    tier: 5,
    weight: 1,
    description: "include administrators (no bypass actors)",
    met: (s) => s.enforceForAdmins,
  },
];

export interface ScorecardAssessment {
  /** Highest tier whose criteria, and every lower tier's, are all met; 0 if none. */
  tier: 0 | ScorecardTier;
  /** The 0–10 score Scorecard would report (rounded down, as Scorecard does). */
  score: number;
  /** Criteria not met, lowest tier first. */
  unmet: { tier: ScorecardTier; description: string }[];
}

export function assessBranchProtection(settings: BranchProtectionSettings): ScorecardAssessment {
  const tiers: ScorecardTier[] = [1, 2, 3, 4, 5];
  let tier: ScorecardAssessment["tier"] = 0;
  let score = 0;
  for (const t of tiers) {
    const criteria = SCORECARD_CRITERIA.filter((c) => c.tier === t);
    const total = criteria.reduce((sum, c) => sum + c.weight, 0);
    const earned = criteria.filter((c) => c.met(settings)).reduce((sum, c) => sum + c.weight, 0);
    // The first incomplete tier still earns its share; nothing above it counts.
    score += (TIER_POINTS[t] * earned) / total;
    if (earned < total) break;
    tier = t;
  }

  const unmet = SCORECARD_CRITERIA.filter((c) => !c.met(settings)).map(({ tier: t, description }) => ({
    tier: t,
    description,
  }));
  return { tier, score: Math.floor(score + 1e-9), unmet };
}
