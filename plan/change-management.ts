/**
 * Change management as plain data: how `main` is protected, who may write,
 * which deployment environments gate which credentials. The GitHub component
 * applies it, the workflow tests compare the status checks with the workflow
 * files, and the Scorecard assessment reads the same settings.
 */
import type { PlatformConfig } from "../config/schema";
import { ENVIRONMENTS, type EnvironmentName } from "./address-plan";

export const PROTECTED_BRANCH = "main";

/**
 * GitHub Actions' app id. Pinning required checks to it means a commit status
 * of the same name posted by anything else (a PAT, another app) cannot satisfy
 * the rule.
 */
export const GITHUB_ACTIONS_APP_ID = 15368;

/**
 * Job names of `.github/workflows/pull-request.yml`; GitHub reports each as a
 * status check of that name. The previews run as one matrix job whose `name`
 * is `preview-<stack>`.
 */
export const PULL_REQUEST_JOBS = {
  typecheck: "typecheck",
  unitTests: "unit-tests",
  synth: "synth",
  actionlint: "actionlint",
} as const;

export function previewCheckName(environment: EnvironmentName): string {
  return `preview-${environment}`;
}

/**
 * The check run the trusted review-diff-comment workflow posts on a pull
 * request's head commit: it fails while the review diff says the change
 * weakens a control and no second team member has accepted that
 * (docs/decisions/review-diff-gate.md).
 */
export const REVIEW_DIFF_GATE_CHECK = "review-diff-gate";

/** Every check a pull request to the IaC repository must pass. */
export const IAC_REQUIRED_CHECKS: readonly string[] = [
  ...Object.values(PULL_REQUEST_JOBS),
  ...ENVIRONMENTS.map(previewCheckName),
  REVIEW_DIFF_GATE_CHECK,
];

/**
 * The environment a job that may change `<environment>` runs in, and the one
 * a pull-request preview runs in. Previews run on feature branches, which a
 * main-only environment refuses, so they get their own environment holding
 * read-only credentials, behind the team's approval for staging and production.
 */
export function deployEnvironmentName(environment: EnvironmentName): string {
  return environment;
}
/**
 * The runner label of `<environment>`'s self-hosted deploy runners. Jobs that
 * need the Talos or Kubernetes API of an environment run on it; the runners
 * registered with it live inside that environment's network and nowhere else.
 */
export function deployRunnerLabel(environment: EnvironmentName): string {
  return `ske-deploy-${environment}`;
}
export function previewEnvironmentName(environment: EnvironmentName): string {
  return `${environment}-preview`;
}
/** The environment of the nightly drift check: `main` only, read-only credentials. */
export function driftEnvironmentName(environment: EnvironmentName): string {
  return `${environment}-drift`;
}

/**
 * The protection of one branch, in the terms reviewers and Scorecard use
 * rather than in any one GitHub API's field names.
 */
export interface BranchProtectionSettings {
  branch: string;
  requirePullRequest: boolean;
  requiredApprovals: number;
  requireCodeOwnerReview: boolean;
  /** Whether the repository has a CODEOWNERS file (code-owner review is void without one). */
  hasCodeOwnersFile: boolean;
  /** The most recent push must be approved by someone other than its pusher. */
  requireLastPushApproval: boolean;
  dismissStaleReviews: boolean;
  requireConversationResolution: boolean;
  requiredStatusChecks: readonly string[];
  /** Checks must have run against the latest `main` ("strict"). */
  requireUpToDateBranch: boolean;
  blockForcePush: boolean;
  blockDeletion: boolean;
  /** Nobody, admins included, can bypass the rules (no bypass actors). */
  enforceForAdmins: boolean;
}

export type EnvironmentPurpose = "deploy" | "preview" | "drift";

export interface EnvironmentPlan {
  name: string;
  /** The stack whose credentials the environment holds. */
  stack: EnvironmentName;
  /**
   * deploy: `pulumi up` after merge; preview: pull-request previews of any
   * branch; drift: the nightly read-only check of what is on `main`.
   */
  purpose: EnvironmentPurpose;
  /** The team must approve each job that uses this environment. */
  teamReview: boolean;
  /** The person who started the run may not approve it. */
  preventSelfReview: boolean;
  /** Always false: an admin waits for the same approval as anyone else. */
  canAdminsBypass: false;
  /**
   * Branches whose runs may use the environment, or "all". A named list
   * rather than GitHub's "protected branches" option: that option does not
   * reliably count branches protected by a ruleset, and with no classic
   * protection in the repository it lets every branch deploy.
   */
  allowedBranches: readonly string[] | "all";
  /**
   * Names of the environment's secrets. Their values are set by an operator
   * (`gh secret set --env`), never by this program: a credential that unlocks
   * the state must not live in that state. Each environment holds its own
   * values, so test's passphrase and state keys open nothing of staging or
   * production. The workflows may reference no other secret.
   */
  secrets: readonly string[];
}

/**
 * Secrets a job that runs `pulumi` for one stack needs, in every environment
 * of that stack (deploy, preview, drift: same names, different values; the
 * preview and drift values are read-only credentials).
 */
export const STACK_SECRETS: readonly string[] = [
  "PULUMI_CONFIG_PASSPHRASE",
  "STATE_ACCESS_KEY_ID",
  "STATE_SECRET_ACCESS_KEY",
  "OS_APPLICATION_CREDENTIAL_ID",
  "OS_APPLICATION_CREDENTIAL_SECRET",
  "SKE_GITHUB_TOKEN",
];

export type RepositoryRole = "iac" | "gitops";

export interface RepositoryPlan {
  role: RepositoryRole;
  name: string;
  protection: BranchProtectionSettings;
  /** Content of `.github/CODEOWNERS`. */
  codeOwners: string;
  /** The only access grant on the repository. */
  teamPermission: "push";
  /** Environments this stack owns in the repository. */
  environments: EnvironmentPlan[];
}

export interface ChangeManagementPlan {
  owner: string;
  team: string;
  teamId: number;
  /** Whether this stack applies the repository-wide settings (protection, access, CODEOWNERS). */
  ownsRepositorySettings: boolean;
  repositories: RepositoryPlan[];
  /** Argo CD's read access to the GitOps repository; one key per environment. */
  deployKey: { repository: string; title: string; readOnly: true };
}

export function codeOwnersFile(owner: string, team: string): string {
  return [
    "# Managed by the ske-platform Pulumi program (production stack); edits here are overwritten.",
    "# Every path needs a review from the team: with code-owner review required on main,",
    "# an approval from anyone outside it does not count.",
    `* @${owner}/${team}`,
    "",
  ].join("\n");
}

export function branchProtection(args: {
  requiredApprovals: number;
  requiredStatusChecks: readonly string[];
}): BranchProtectionSettings {
  if (!Number.isInteger(args.requiredApprovals) || args.requiredApprovals < 1) {
    throw new Error(`github.requiredApprovals must be at least 1, got ${args.requiredApprovals}`);
  }
  return {
    branch: PROTECTED_BRANCH,
    requirePullRequest: true,
    requiredApprovals: args.requiredApprovals,
    requireCodeOwnerReview: true,
    hasCodeOwnersFile: true,
    requireLastPushApproval: true,
    dismissStaleReviews: true,
    requireConversationResolution: true,
    requiredStatusChecks: [...args.requiredStatusChecks],
    requireUpToDateBranch: args.requiredStatusChecks.length > 0,
    blockForcePush: true,
    blockDeletion: true,
    enforceForAdmins: true,
  };
}

/**
 * The environments one stack owns.
 *
 * - deploy (`<env>`): `pulumi up` after merge, from `main` only. `test` is
 *   deployed straight away (the merge itself was approved); staging and
 *   production wait for a second decision by the team, never by whoever
 *   started the run.
 * - preview (`<env>-preview`): pull-request previews. A preview runs the pull
 *   request's code with the stack's passphrase, which decrypts every secret
 *   in its state; so for staging and production a team member other than the
 *   one who started the run approves each preview, after reading the code.
 *   Those previews run from main's preview-privileged.yml on
 *   pull_request_target, whose runs are at the default branch, so their
 *   environments serve main only: a workflow written on a branch cannot even
 *   ask for them. Test's preview stays automatic and serves any branch (its
 *   pull_request runs are at refs/pull/<n>/merge): its passphrase and state
 *   keys open only test.
 * - drift (`<env>-drift`): the nightly read-only check. No approval, because
 *   it runs only from `main` (whose every commit a second team member
 *   approved) and only previews; a nightly approval would be clicked through
 *   unread, which is worse than none.
 */
export function deploymentEnvironments(environment: EnvironmentName, role: RepositoryRole): EnvironmentPlan[] {
  const gated = environment !== "test";
  const deploy: EnvironmentPlan = {
    name: deployEnvironmentName(environment),
    stack: environment,
    purpose: "deploy",
    teamReview: gated,
    preventSelfReview: true,
    canAdminsBypass: false,
    allowedBranches: [PROTECTED_BRANCH],
    // The GitOps repository's workflows are not this repository's; it declares its own secrets.
    secrets: role === "iac" ? STACK_SECRETS : [],
  };
  if (role === "gitops") return [deploy];
  const preview: EnvironmentPlan = {
    name: previewEnvironmentName(environment),
    stack: environment,
    purpose: "preview",
    teamReview: gated,
    preventSelfReview: gated,
    canAdminsBypass: false,
    allowedBranches: gated ? [PROTECTED_BRANCH] : "all",
    secrets: STACK_SECRETS,
  };
  const drift: EnvironmentPlan = {
    name: driftEnvironmentName(environment),
    stack: environment,
    purpose: "drift",
    teamReview: false,
    preventSelfReview: false,
    canAdminsBypass: false,
    allowedBranches: [PROTECTED_BRANCH],
    secrets: STACK_SECRETS,
  };
  return [deploy, preview, drift];
}

export function buildChangeManagementPlan(config: PlatformConfig): ChangeManagementPlan {
  const github = config.github;
  const environment = config.environment;
  const repository = (role: RepositoryRole, name: string, checks: readonly string[]): RepositoryPlan => ({
    role,
    name,
    protection: branchProtection({ requiredApprovals: github.requiredApprovals, requiredStatusChecks: checks }),
    codeOwners: codeOwnersFile(github.owner, github.team),
    teamPermission: "push",
    environments: deploymentEnvironments(environment, role),
  });
  return {
    owner: github.owner,
    team: github.team,
    teamId: github.teamId,
    ownsRepositorySettings: github.ownsRepositorySettings,
    repositories: [
      repository("iac", github.iacRepository, IAC_REQUIRED_CHECKS),
      repository("gitops", github.gitopsRepository, github.gitopsRequiredChecks),
    ],
    deployKey: { repository: github.gitopsRepository, title: `argocd-${environment}`, readOnly: true },
  };
}
