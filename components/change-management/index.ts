import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import {
  GITHUB_ACTIONS_APP_ID,
  type BranchProtectionSettings,
  type ChangeManagementPlan,
  type EnvironmentPlan,
  type RepositoryPlan,
  type RepositoryRole,
} from "../../plan/change-management";

export interface ChangeManagementArgs {
  plan: ChangeManagementPlan;
  /**
   * Every GitHub call goes through this provider; nothing ambient. Its token
   * comes from GITHUB_TOKEN in the environment, never from config.
   */
  provider: github.Provider;
  /** OpenSSH public half of Argo CD's key to the GitOps repository. */
  deployKeyPublicOpenssh: pulumi.Input<string>;
}

/** What the owning stack applies to one repository as a whole. */
export interface RepositorySettings {
  ruleset: github.RepositoryRuleset;
  collaborators: github.RepositoryCollaborators;
  codeOwners: github.RepositoryFile;
}

export const CODEOWNERS_PATH = ".github/CODEOWNERS";

/**
 * Change management of the IaC and GitOps repositories.
 *
 * Repository-wide settings (protection of `main`, who has access, CODEOWNERS)
 * are created only when the plan says this stack owns them, so the stacks
 * never overwrite each other's view of one repository. Each stack always owns
 * its own deployment environments and its own Argo CD deploy key.
 */
export class ChangeManagement extends pulumi.ComponentResource {
  /** Present only in the stack that owns repository-wide settings. */
  readonly repositorySettings: Partial<Record<RepositoryRole, RepositorySettings>>;
  readonly environments: github.RepositoryEnvironment[];
  readonly deployKey: github.RepositoryDeployKey;

  constructor(name: string, args: ChangeManagementArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:github:ChangeManagement", name, {}, opts);
    const { plan, provider } = args;
    const child = { parent: this, provider };

    this.repositorySettings = {};
    if (plan.ownsRepositorySettings) {
      for (const repository of plan.repositories) {
        this.repositorySettings[repository.role] = this.repositoryWide(plan, repository, child);
      }
    }

    this.environments = plan.repositories.flatMap((repository) =>
      repository.environments.map((environment) => this.environment(plan, repository, environment, child)),
    );

    // One key per environment, so each Argo CD can be cut off on its own.
    // Read-only: Argo CD only pulls; a leaked key must not be able to push.
    this.deployKey = new github.RepositoryDeployKey(
      `${plan.deployKey.repository}-${plan.deployKey.title}`,
      {
        repository: plan.deployKey.repository,
        title: plan.deployKey.title,
        key: args.deployKeyPublicOpenssh,
        readOnly: plan.deployKey.readOnly,
      },
      child,
    );

    this.registerOutputs({});
  }

  private repositoryWide(
    plan: ChangeManagementPlan,
    repository: RepositoryPlan,
    child: pulumi.CustomResourceOptions,
  ): RepositorySettings {
    // Removing the stack must not unprotect `main` or strip the team's access:
    // these outlive the stack until someone removes them on purpose.
    const keep = { ...child, retainOnDelete: true };

    // Written before the ruleset exists: once `main` demands pull requests
    // with no bypass, not even this program can commit to it. Later changes
    // to the file go through a pull request like any other; `pulumi up
    // --refresh` then reads the merged content back and finds nothing to do.
    const codeOwners = new github.RepositoryFile(
      `${repository.name}-codeowners`,
      {
        repository: repository.name,
        branch: repository.protection.branch,
        file: CODEOWNERS_PATH,
        content: repository.codeOwners,
        commitMessage: "Manage CODEOWNERS from the ske-platform Pulumi program",
        overwriteOnCreate: true,
      },
      keep,
    );

    // Authoritative: the team is the only collaborator, so every approval
    // that counts comes from a team member. Pulumi removes direct user
    // grants, outside collaborators and other teams on the next update. What
    // it cannot remove from here: organisation owners (implicit admin) and
    // the organisation's base permission for members, which must be "read"
    // or "none" in the organisation settings.
    const collaborators = new github.RepositoryCollaborators(
      `${repository.name}-collaborators`,
      {
        repository: repository.name,
        teams: [{ teamId: plan.team, permission: repository.teamPermission }],
        users: [],
      },
      keep,
    );

    const ruleset = new github.RepositoryRuleset(
      `${repository.name}-${repository.protection.branch}`,
      {
        repository: repository.name,
        name: `protect-${repository.protection.branch}`,
        target: "branch",
        enforcement: "active",
        conditions: {
          refName: { includes: [`refs/heads/${repository.protection.branch}`], excludes: [] },
        },
        // No bypass actors: the rules bind admins, owners and this program alike.
        bypassActors: [],
        rules: rulesetRules(repository.protection),
      },
      { ...keep, dependsOn: [codeOwners] },
    );

    return { ruleset, collaborators, codeOwners };
  }

  private environment(
    plan: ChangeManagementPlan,
    repository: RepositoryPlan,
    environment: EnvironmentPlan,
    child: pulumi.CustomResourceOptions,
  ): github.RepositoryEnvironment {
    const name = `${repository.name}-env-${environment.name}`;
    const restricted = environment.allowedBranches !== "all";
    const resource = new github.RepositoryEnvironment(
      name,
      {
        repository: repository.name,
        environment: environment.name,
        // Admins wait for the same approval as everyone else (GitHub's default lets them skip it).
        canAdminsBypass: environment.canAdminsBypass,
        preventSelfReview: environment.preventSelfReview,
        reviewers: environment.teamReview ? [{ teams: [plan.teamId], users: [] }] : [],
        ...(restricted ? { deploymentBranchPolicy: { protectedBranches: false, customBranchPolicies: true } } : {}),
      },
      child,
    );

    if (environment.allowedBranches !== "all") {
      for (const branch of environment.allowedBranches) {
        // The name as a plain value (ordered by dependsOn), so the environment
        // gate policy can match pattern to environment at the first preview too.
        new github.RepositoryEnvironmentDeploymentPolicy(
          `${name}-${branch}`,
          {
            repository: repository.name,
            environment: environment.name,
            branchPattern: branch,
          },
          { ...child, dependsOn: [resource] },
        );
      }
    }
    return resource;
  }
}

/**
 * A ruleset rather than classic branch protection: both can express every
 * requirement here (last-push approval, code owners, stale-review dismissal,
 * conversation resolution, strict status checks, no force push or deletion),
 * but only a ruleset
 *  - binds everyone when it lists no bypass actors, organisation owners
 *    included, where classic `enforce_admins` is one more switch to forget;
 *  - pins each required check to the GitHub Actions app, so a commit status
 *    of the same name from a token or another app cannot satisfy it;
 *  - can be read by anyone with read access, so reviewers and Scorecard see
 *    the rules without an admin token.
 */
export function rulesetRules(protection: BranchProtectionSettings): github.types.input.RepositoryRulesetRules {
  return {
    deletion: protection.blockDeletion,
    nonFastForward: protection.blockForcePush,
    ...(protection.requirePullRequest
      ? {
          pullRequest: {
            requiredApprovingReviewCount: protection.requiredApprovals,
            requireCodeOwnerReview: protection.requireCodeOwnerReview,
            requireLastPushApproval: protection.requireLastPushApproval,
            dismissStaleReviewsOnPush: protection.dismissStaleReviews,
            requiredReviewThreadResolution: protection.requireConversationResolution,
          },
        }
      : {}),
    ...(protection.requiredStatusChecks.length > 0
      ? {
          requiredStatusChecks: {
            strictRequiredStatusChecksPolicy: protection.requireUpToDateBranch,
            requiredChecks: protection.requiredStatusChecks.map((context) => ({
              context,
              integrationId: GITHUB_ACTIONS_APP_ID,
            })),
          },
        }
      : {}),
  };
}
