import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CODEOWNERS_PATH } from "../components/change-management";
import { loadPlatformConfig, readAddressPlan } from "../config/load";
import {
  GITHUB_ACTIONS_APP_ID,
  IAC_REQUIRED_CHECKS,
  branchProtection,
  codeOwnersFile,
  driftEnvironmentName,
  previewEnvironmentName,
} from "../plan/change-management";
import { buildPlatformPlan } from "../plan/platform-plan";
import { deployChangeManagement } from "../stacks/change-management";
import { fakeState } from "../synth/fake-state";
import { runProgram, type RecordedResource } from "../synth/mock-runtime";
import { readStackFile } from "../config/stack-file";
import {
  ROOT,
  STACKS,
  committedConfig,
  ofType,
  stackFilePath,
  synthOk,
  synthStack,
  variantFile,
} from "./support/stacks";

const P = "ske-platform:";
const RULESET = "github:index/repositoryRuleset:RepositoryRuleset";
const COLLABORATORS = "github:index/repositoryCollaborators:RepositoryCollaborators";
const FILE = "github:index/repositoryFile:RepositoryFile";
const ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment";
const ENV_POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy";
const DEPLOY_KEY = "github:index/repositoryDeployKey:RepositoryDeployKey";
const REPOSITORY_WIDE = [RULESET, COLLABORATORS, FILE];

const github = committedConfig("production")[`${P}github`] as {
  owner: string;
  iacRepository: string;
  gitopsRepository: string;
  team: string;
  teamId: number;
  requiredApprovals: number;
};
const repositories = [github.iacRepository, github.gitopsRepository];

// The committed stacks are synthesized once per file: each run is seconds of mocks.
const committedRuns = new Map<string, ReturnType<typeof synthOk>>();
function synthCommitted(stack: string): ReturnType<typeof synthOk> {
  if (!committedRuns.has(stack)) committedRuns.set(stack, synthOk(stack));
  return committedRuns.get(stack)!;
}
const argocdKeyName = (stack: string) => `${stack}-argocd-deploy-key`;

function rulesetOf(resources: readonly RecordedResource[], repository: string) {
  const found = ofType(resources, RULESET).filter((r) => r.inputs.repository === repository);
  expect(found, `rulesets of ${repository}`).toHaveLength(1);
  return found[0]!;
}
const rulesOf = (ruleset: RecordedResource) => ruleset.inputs.rules as Record<string, any>;
const pullRequestRule = (ruleset: RecordedResource) => rulesOf(ruleset).pullRequest as Record<string, unknown>;

function environmentsOf(resources: readonly RecordedResource[], repository: string) {
  return ofType(resources, ENVIRONMENT).filter((r) => r.inputs.repository === repository);
}

describe("protection of main in the owning (production) stack", () => {
  let run: Awaited<ReturnType<typeof synthOk>>;
  beforeAll(async () => {
    run = await synthCommitted("production");
  });

  it.each(repositories)("%s: protects refs/heads/main, active, with no bypass actors (admins included)", (repo) => {
    const ruleset = rulesetOf(run.resources, repo);
    expect(ruleset.inputs.target).toBe("branch");
    expect(ruleset.inputs.enforcement).toBe("active");
    expect((ruleset.inputs.conditions as any).refName.includes).toEqual(["refs/heads/main"]);
    expect(ruleset.inputs.bypassActors).toEqual([]);
  });

  it.each(repositories)("%s: requires a pull request with the configured number of approvals (≥ 1)", (repo) => {
    const count = pullRequestRule(rulesetOf(run.resources, repo)).requiredApprovingReviewCount;
    expect(count).toBe(github.requiredApprovals);
    expect(count).toBeGreaterThanOrEqual(1);
  });

  it.each(repositories)("%s: requires approval of the last push by someone other than its pusher", (repo) => {
    expect(pullRequestRule(rulesetOf(run.resources, repo)).requireLastPushApproval).toBe(true);
  });

  it.each(repositories)("%s: requires code-owner review", (repo) => {
    expect(pullRequestRule(rulesetOf(run.resources, repo)).requireCodeOwnerReview).toBe(true);
  });

  it.each(repositories)("%s: dismisses stale approvals on push", (repo) => {
    expect(pullRequestRule(rulesetOf(run.resources, repo)).dismissStaleReviewsOnPush).toBe(true);
  });

  it.each(repositories)("%s: requires conversations to be resolved", (repo) => {
    expect(pullRequestRule(rulesetOf(run.resources, repo)).requiredReviewThreadResolution).toBe(true);
  });

  it.each(repositories)("%s: blocks force pushes and deletion of main", (repo) => {
    const rules = rulesOf(rulesetOf(run.resources, repo));
    expect(rules.nonFastForward).toBe(true);
    expect(rules.deletion).toBe(true);
  });

  it("requires every pull-request check of the IaC repository, up to date and from GitHub Actions only", () => {
    const checks = rulesOf(rulesetOf(run.resources, github.iacRepository)).requiredStatusChecks;
    expect(checks.strictRequiredStatusChecksPolicy).toBe(true);
    expect(checks.requiredChecks.map((c: any) => c.context)).toEqual([...IAC_REQUIRED_CHECKS]);
    for (const check of checks.requiredChecks) expect(check.integrationId).toBe(GITHUB_ACTIONS_APP_ID);
  });

  it("requires the GitOps repository's own checks as configured, and none it does not report", async () => {
    expect(rulesOf(rulesetOf(run.resources, github.gitopsRepository)).requiredStatusChecks).toBeUndefined();
    const withChecks = await synthOk(
      "production",
      variantFile("production", (c) => {
        c[`${P}github`].gitopsRequiredChecks = ["kustomize-build"];
      }),
    );
    const checks = rulesOf(rulesetOf(withChecks.resources, github.gitopsRepository)).requiredStatusChecks;
    expect(checks.requiredChecks).toEqual([{ context: "kustomize-build", integrationId: GITHUB_ACTIONS_APP_ID }]);
  });

  it.each(repositories)("%s: the team is the only collaborator, with write (push) access", (repo) => {
    const grants = ofType(run.resources, COLLABORATORS).filter((r) => r.inputs.repository === repo);
    expect(grants).toHaveLength(1);
    expect(grants[0]!.inputs.teams).toEqual([{ teamId: github.team, permission: "push" }]);
    expect(grants[0]!.inputs.users).toEqual([]);
    // RepositoryCollaborators is authoritative; a non-authoritative grant beside it would be overwritten.
    expect(ofType(run.resources, "github:index/teamRepository:TeamRepository")).toEqual([]);
    expect(ofType(run.resources, "github:index/repositoryCollaborator:RepositoryCollaborator")).toEqual([]);
  });

  it.each(repositories)("%s: CODEOWNERS makes the team own every path, written before main is locked", (repo) => {
    const files = ofType(run.resources, FILE).filter((r) => r.inputs.repository === repo);
    expect(files).toHaveLength(1);
    const file = files[0]!;
    expect(file.inputs).toMatchObject({ file: CODEOWNERS_PATH, branch: "main" });
    const rules = (file.inputs.content as string).split("\n").filter((l) => l.trim() && !l.startsWith("#"));
    expect(rules).toEqual([`* @${github.owner}/${github.team}`]);
    expect(rulesetOf(run.resources, repo).options.dependsOn).toContain(file.name);
  });

  it("keeps the committed .github/CODEOWNERS of this repository identical to the managed one", () => {
    const committed = fs.readFileSync(path.join(ROOT, CODEOWNERS_PATH), "utf8");
    expect(committed).toBe(codeOwnersFile(github.owner, github.team));
  });

  it("keeps protection and access when the stack is removed (retainOnDelete)", () => {
    for (const r of run.resources.filter((r) => REPOSITORY_WIDE.includes(r.type))) {
      expect(r.options.retainOnDelete, r.name).toBe(true);
    }
  });

  it("raises the approvals when the config asks for 2", async () => {
    const two = await synthOk(
      "production",
      variantFile("production", (c) => {
        c[`${P}github`].requiredApprovals = 2;
      }),
    );
    for (const repo of repositories)
      expect(pullRequestRule(rulesetOf(two.resources, repo)).requiredApprovingReviewCount).toBe(2);
  });

  it("refuses 0 approvals in config, naming the key, and in the plan", async () => {
    const zero = await synthStack(
      "production",
      variantFile("production", (c) => {
        c[`${P}github`].requiredApprovals = 0;
      }),
    );
    expect(zero.ok).toBe(false);
    if (!zero.ok) expect(zero.error).toContain(`${P}github.requiredApprovals`);
    expect(() => branchProtection({ requiredApprovals: 0, requiredStatusChecks: [] })).toThrow(/requiredApprovals/);
  });

  it("refuses a stack file without the team id, naming the key", async () => {
    const missing = await synthStack(
      "production",
      variantFile("production", (c) => {
        delete c[`${P}github`].teamId;
      }),
    );
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(missing.error).toContain(`${P}github.teamId`);
  });
});

describe("deployment environments", () => {
  it("production and staging: the team must approve, never the person who started the run, admins included, from main only", async () => {
    for (const stack of ["production", "staging"] as const) {
      const run = await synthCommitted(stack);
      for (const repo of repositories) {
        const env = environmentsOf(run.resources, repo).find((e) => e.inputs.environment === stack);
        expect(env, `${repo}:${stack}`).toBeDefined();
        expect(env!.inputs).toMatchObject({
          reviewers: [{ teams: [github.teamId], users: [] }],
          preventSelfReview: true,
          canAdminsBypass: false,
          deploymentBranchPolicy: { protectedBranches: false, customBranchPolicies: true },
        });
        const policies = ofType(run.resources, ENV_POLICY).filter(
          (p) => p.inputs.repository === repo && p.inputs.environment === stack,
        );
        expect(policies.map((p) => p.inputs.branchPattern)).toEqual(["main"]);
      }
    }
  });

  it("test: deployed from main only, without a second approval", async () => {
    const run = await synthCommitted("test");
    const env = environmentsOf(run.resources, github.iacRepository).find((e) => e.inputs.environment === "test")!;
    expect(env.inputs.reviewers).toEqual([]);
    expect(env.inputs.deploymentBranchPolicy).toEqual({ protectedBranches: false, customBranchPolicies: true });
    const policies = ofType(run.resources, ENV_POLICY).filter(
      (p) => p.inputs.repository === github.iacRepository && p.inputs.environment === "test",
    );
    expect(policies.map((p) => p.inputs.branchPattern)).toEqual(["main"]);
  });

  it.each(["production", "staging"] as const)(
    "%s: the preview environment serves main only (main's pull_request_target previews), and only after a team member other than the starter approves",
    async (stack) => {
      const run = await synthCommitted(stack);
      const preview = environmentsOf(run.resources, github.iacRepository).find(
        (e) => e.inputs.environment === previewEnvironmentName(stack),
      )!;
      expect(preview).toBeDefined();
      expect(preview.inputs).toMatchObject({
        reviewers: [{ teams: [github.teamId], users: [] }],
        preventSelfReview: true,
        canAdminsBypass: false,
        deploymentBranchPolicy: { protectedBranches: false, customBranchPolicies: true },
      });
      const policies = ofType(run.resources, ENV_POLICY).filter(
        (p) => p.inputs.repository === github.iacRepository && p.inputs.environment === previewEnvironmentName(stack),
      );
      expect(policies.map((p) => p.inputs.branchPattern)).toEqual(["main"]);
    },
  );

  it("test: the preview environment serves any branch without approval", async () => {
    const run = await synthCommitted("test");
    const preview = environmentsOf(run.resources, github.iacRepository).find(
      (e) => e.inputs.environment === previewEnvironmentName("test"),
    )!;
    expect(preview.inputs.reviewers).toEqual([]);
    expect(preview.inputs.deploymentBranchPolicy).toBeUndefined();
  });

  it.each(STACKS)(
    "%s: the drift environment serves main only, with no approval (what runs there was approved at merge)",
    async (stack) => {
      const run = await synthCommitted(stack);
      const drift = environmentsOf(run.resources, github.iacRepository).find(
        (e) => e.inputs.environment === driftEnvironmentName(stack),
      )!;
      expect(drift.inputs).toMatchObject({
        reviewers: [],
        canAdminsBypass: false,
        deploymentBranchPolicy: { protectedBranches: false, customBranchPolicies: true },
      });
      const policies = ofType(run.resources, ENV_POLICY).filter(
        (p) => p.inputs.repository === github.iacRepository && p.inputs.environment === driftEnvironmentName(stack),
      );
      expect(policies.map((p) => p.inputs.branchPattern)).toEqual(["main"]);
    },
  );
});

describe.each(STACKS)("ownership in the %s stack", (stack) => {
  it("has repository-wide settings only if it owns them, and always exactly its own environments", async () => {
    const run = await synthCommitted(stack);
    const owns = committedConfig(stack)[`${P}github`].ownsRepositorySettings === true;
    for (const type of REPOSITORY_WIDE) expect(ofType(run.resources, type).length > 0, type).toBe(owns);
    const environments = ofType(run.resources, ENVIRONMENT)
      .map((e) => `${String(e.inputs.repository)}:${String(e.inputs.environment)}`)
      .sort();
    expect(environments).toEqual(
      [
        `${github.iacRepository}:${stack}`,
        `${github.iacRepository}:${stack}-preview`,
        `${github.iacRepository}:${stack}-drift`,
        `${github.gitopsRepository}:${stack}`,
      ].sort(),
    );
  });

  it("sends every GitHub call through its own provider, owner from config and no token in config", async () => {
    const run = await synthCommitted(stack);
    const providers = ofType(run.resources, "pulumi:providers:github");
    expect(providers.map((p) => p.name)).toEqual([`${stack}-github`]);
    expect(providers[0]!.inputs.owner).toBe(github.owner);
    expect(providers[0]!.inputs).not.toHaveProperty("token");
    for (const r of run.resources.filter((r) => r.custom && r.type.startsWith("github:index/"))) {
      expect(r.provider, r.name).toMatch(new RegExp(`::${stack}-github::`));
    }
  });

  it("gives Argo CD a read-only deploy key of its own to the GitOps repository", async () => {
    const run = await synthCommitted(stack);
    const keys = ofType(run.resources, DEPLOY_KEY);
    expect(keys).toHaveLength(1);
    expect(keys[0]!.inputs).toMatchObject({
      repository: github.gitopsRepository,
      readOnly: true,
      title: `argocd-${stack}`,
    });
    const generated = ofType(run.resources, "tls:index/privateKey:PrivateKey").filter(
      (k) => k.name === argocdKeyName(stack),
    );
    expect(generated.map((k) => k.inputs.algorithm)).toEqual(["ED25519"]);
    // The registered key is the public half of that generated key (the synth's fake names its key).
    expect(keys[0]!.inputs.key).toContain(argocdKeyName(stack));
  });
});

describe("the stack files", () => {
  it("give repository-wide settings to exactly one stack, production", () => {
    const owners = STACKS.filter((stack) => committedConfig(stack)[`${P}github`].ownsRepositorySettings === true);
    expect(owners).toEqual(["production"]);
  });

  it("skip every GitHub resource when layers.github is false", async () => {
    // Only test may switch the layer off: production and staging refuse it (config/refusals.ts).
    const off = await synthOk(
      "test",
      variantFile("test", (c) => {
        c[`${P}layers`] = { ...(c[`${P}layers`] ?? {}), github: false };
      }),
    );
    expect(off.resources.filter((r) => r.type.startsWith("github:") || r.type.includes(":github"))).toEqual([]);
    expect(off.outputs).not.toHaveProperty("github");
    // Argo CD still needs its key: the GitOps layer makes it and exports the public half to register by hand.
    expect(off.resources.filter((r) => r.name === argocdKeyName("test"))).toHaveLength(1);
    expect((off.outputs.gitops as { deployKeyPublicOpenssh?: string }).deployKeyPublicOpenssh).toMatch(/^ssh-ed25519 /);
  });
});

describe("the deploy key's private half", () => {
  it("is a Pulumi secret when handed to the next layer, and never a stack output", async () => {
    const stackFile = readStackFile(stackFilePath("staging"), "staging");
    const run = await runProgram({
      stackFile,
      fakeState,
      entry: () => {
        const loaded = loadPlatformConfig(stackFile, readAddressPlan());
        const deployed = deployChangeManagement({
          plan: buildPlatformPlan(loaded.config, loaded.addressPlan),
          config: loaded.config,
        })!;
        return Promise.resolve({ deployKeyPrivatePem: deployed.deployKeyPrivatePem });
      },
    });
    expect(run.secretOutputPaths).toEqual(["deployKeyPrivatePem"]);

    const full = await synthCommitted("staging");
    expect(JSON.stringify(full.outputs)).not.toMatch(/PRIVATE KEY/);
    expect(full.plainOutputPaths.filter((p) => /private/i.test(p))).toEqual([]);
  });
});
