import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../plan/address-plan";
import {
  PROTECTED_BRANCH,
  deployEnvironmentName,
  driftEnvironmentName,
  previewEnvironmentName,
  type EnvironmentPlan,
} from "../plan/change-management";
import { checkTwoPersonRule, formatFinding, type Finding } from "../plan/ci-two-person-rule";
import {
  GATED_STACKS,
  WORKFLOW_DIR,
  checkRepository,
  declaredEnvironments,
  declaredRunnerGroups,
  readWorkflows,
} from "../scripts/ci-two-person-rule/load";
import { ROOT } from "./support/stacks";

const BEFORE = path.join(ROOT, "test", "fixtures", "workflows", "before-two-person");
/** The workflows as merged from the two-person and runner branches, before the runner groups were reconciled. */
const BEFORE_RUNNER_GROUPS = path.join(ROOT, "test", "fixtures", "workflows", "before-runner-groups");
const BEFORE_ENVIRONMENTS = JSON.parse(
  fs.readFileSync(path.join(BEFORE, "environments.json"), "utf8"),
) as EnvironmentPlan[];
const DECLARED = declaredEnvironments();

/** The declared environments, but staging's and production's previews serving any branch. */
const ANY_BRANCH_PREVIEWS: EnvironmentPlan[] = DECLARED.map((e) =>
  e.purpose === "preview" ? { ...e, allowedBranches: "all" } : e,
);

const lines = (findings: Finding[]) => findings.map(formatFinding).join("\n");
const check = (workflows: Record<string, string>, environments: readonly EnvironmentPlan[] = ANY_BRANCH_PREVIEWS) =>
  checkTwoPersonRule({
    workflows: Object.fromEntries(Object.entries(workflows).map(([f, text]) => [f, parse(text)])),
    environments,
    gatedStacks: GATED_STACKS,
  });
/** The declared environments with one of them changed. */
function withEnvironment(
  name: string,
  change: Partial<EnvironmentPlan>,
  base: readonly EnvironmentPlan[] = ANY_BRANCH_PREVIEWS,
): EnvironmentPlan[] {
  expect(base.map((e) => e.name)).toContain(name);
  return base.map((e) => (e.name === name ? { ...e, ...change } : e));
}
const rulesOf = (findings: Finding[], job: string) =>
  [...new Set(findings.filter((f) => f.job === job).map((f) => f.rule))].sort();

/** Production's deploy runners, by group and label (engineer 2's form). */
const PROD_RUNNER = "{ group: ske-deploy-production, labels: [self-hosted, ske-deploy-production] }";
/**
 * A gated production preview of a pull_request run; each negative case below
 * breaks one thing. These cases judge the gates themselves, so they take
 * production-preview as serving any branch, as it did before the approved
 * previews moved to main (ANY_BRANCH_PREVIEWS). With today's main-only
 * production-preview GitHub refuses such a job outright (environment-refuses-ref).
 */
const GOOD_PREVIEW = `
on:
  pull_request:
    branches: [main]
jobs:
  preview:
    if: github.event.pull_request.head.repo.full_name == github.repository
    runs-on: { group: ske-deploy-production, labels: [self-hosted, ske-deploy-production] }
    environment: production-preview
    steps:
      - uses: actions/checkout@0000000000000000000000000000000000000000 # v1.0.0
      - run: npm ci --ignore-scripts
      - run: pulumi preview --stack production
        env:
          PULUMI_CONFIG_PASSPHRASE: \${{ secrets.PULUMI_CONFIG_PASSPHRASE }}
`;

describe("the workflows and environments before the two-person rule", () => {
  const findings = checkTwoPersonRule({
    workflows: readWorkflows(BEFORE),
    environments: BEFORE_ENVIRONMENTS,
    gatedStacks: GATED_STACKS,
  });

  it("let the pull-request preview of production and staging reach their secrets with no approval", () => {
    const ungated = findings.filter(
      (f) => f.file === "pull-request.yml" && f.job === "preview" && f.rule.startsWith("ungated-"),
    );
    expect(ungated.map((f) => f.stack).sort(), lines(findings)).toEqual(["production", "staging"]);
    for (const finding of ungated) expect(finding.message).toContain("PULUMI_CONFIG_PASSPHRASE");
  });

  it("leave test's preview automatic, as allowed, but still flag its job-wide secrets", () => {
    const test = findings.filter((f) => f.job === "preview" && f.instance === "stack=test");
    expect(test.map((f) => f.rule)).toEqual(["job-wide-secret"]);
  });

  it("also let the nightly drift check of production and staging reach their secrets with no approval, from any branch", () => {
    const drift = findings.filter((f) => f.file === "drift.yml" && f.rule.startsWith("ungated-"));
    expect(drift.map((f) => f.stack).sort()).toEqual(["production", "staging"]);
  });

  it("are still refused with today's environments: secrets job-wide, and a preview whose refresh writes state", () => {
    const now = checkTwoPersonRule({
      workflows: readWorkflows(BEFORE),
      environments: DECLARED,
      gatedStacks: GATED_STACKS,
    });
    const preview = now.filter(
      (f) => f.file === "pull-request.yml" && f.job === "preview" && f.instance === "stack=production",
    );
    // Today's production-preview serves main only, so GitHub would refuse this pull_request job outright.
    expect(preview.map((f) => f.rule).sort()).toEqual(["environment-refuses-ref", "job-wide-secret"]);
    const anyBranch = checkTwoPersonRule({
      workflows: readWorkflows(BEFORE),
      environments: ANY_BRANCH_PREVIEWS,
      gatedStacks: GATED_STACKS,
    }).filter((f) => f.file === "pull-request.yml" && f.job === "preview" && f.instance === "stack=production");
    expect(anyBranch.map((f) => f.rule).sort()).toEqual(["job-wide-secret", "ungated-change"]);
    expect(anyBranch.find((f) => f.rule === "ungated-change")!.message).toContain("refresh: true");
  });
});

describe("the committed workflows", () => {
  it("give no job a path to staging or production secrets, runners or changes without a second person's approval", () => {
    const findings = checkRepository();
    expect(lines(findings)).toBe("");
  });

  it("pass because of the gates: without the production preview's reviewers the same files fail", () => {
    const findings = checkTwoPersonRule({
      workflows: readWorkflows(WORKFLOW_DIR),
      environments: withEnvironment(
        previewEnvironmentName("production"),
        { teamReview: false, preventSelfReview: false, allowedBranches: "all" },
        DECLARED,
      ),
      gatedStacks: GATED_STACKS,
    });
    expect(findings.map((f) => `${f.file}: ${f.job}[${f.instance}] ${f.rule}`).sort()).toEqual([
      "preview-privileged.yml: preview[stack=production] runner-outside-gate",
      "preview-privileged.yml: preview[stack=production] ungated-environment",
      "preview-privileged.yml: preview[stack=production] untrusted-checkout",
    ]);
    // With today's main-only branch policy the preview's secrets need no reviewer to read main's
    // code, but the pull request's code it checks out still does.
    const mainOnly = checkTwoPersonRule({
      workflows: readWorkflows(WORKFLOW_DIR),
      environments: withEnvironment(
        previewEnvironmentName("production"),
        { teamReview: false, preventSelfReview: false },
        DECLARED,
      ),
      gatedStacks: GATED_STACKS,
    });
    expect(mainOnly.map((f) => `${f.file}: ${f.job}[${f.instance}] ${f.rule}`)).toEqual([
      "preview-privileged.yml: preview[stack=production] untrusted-checkout",
    ]);
  });

  it("pass because of the gates: a production deploy environment open to every branch fails the deploy", () => {
    const findings = checkTwoPersonRule({
      workflows: readWorkflows(WORKFLOW_DIR),
      environments: withEnvironment(deployEnvironmentName("production"), { allowedBranches: "all" }),
      gatedStacks: GATED_STACKS,
    });
    expect(findings.map((f) => `${f.job} ${f.rule}`).sort()).toEqual([
      "deploy-production>pulumi-stack.yml:pulumi runner-outside-gate",
      "deploy-production>pulumi-stack.yml:pulumi ungated-change",
    ]);
  });

  it("use every environment the program declares for this repository, and only those", () => {
    const used = new Set<string>();
    for (const text of Object.values(readWorkflows(WORKFLOW_DIR)).map((w) => JSON.stringify(w))) {
      for (const stack of ENVIRONMENTS) {
        for (const name of [deployEnvironmentName(stack), previewEnvironmentName(stack), driftEnvironmentName(stack)]) {
          if (text.includes(`"${name}"`) || text.includes(`"\${{ matrix.stack }}-${name.slice(stack.length + 1)}"`))
            used.add(name);
        }
      }
    }
    // deploy.yml names each deploy environment; the matrix jobs name <stack>-preview and <stack>-drift.
    expect([...used].sort()).toEqual(DECLARED.map((e) => e.name).sort());
  });
});

describe("the environments the program declares", () => {
  it.each(GATED_STACKS)(
    "%s: preview needs the team's approval, never the starter's own, and admins cannot skip it",
    (stack) => {
      const preview = DECLARED.find((e) => e.name === previewEnvironmentName(stack))!;
      // Main only: the approved previews run from main's preview-privileged.yml (pull_request_target).
      expect(preview).toMatchObject({
        stack,
        purpose: "preview",
        teamReview: true,
        preventSelfReview: true,
        canAdminsBypass: false,
        allowedBranches: [PROTECTED_BRANCH],
      });
    },
  );

  it.each(GATED_STACKS)("%s: deploys need the team's approval and come from main only", (stack) => {
    const deploy = DECLARED.find((e) => e.name === deployEnvironmentName(stack))!;
    expect(deploy).toMatchObject({
      teamReview: true,
      preventSelfReview: true,
      canAdminsBypass: false,
      allowedBranches: [PROTECTED_BRANCH],
    });
  });

  it.each([...ENVIRONMENTS])("%s: the drift environment serves main only", (stack) => {
    const drift = DECLARED.find((e) => e.name === driftEnvironmentName(stack))!;
    expect(drift).toMatchObject({ purpose: "drift", canAdminsBypass: false, allowedBranches: [PROTECTED_BRANCH] });
  });

  it("keep test's preview automatic", () => {
    expect(DECLARED.find((e) => e.name === previewEnvironmentName("test"))).toMatchObject({ teamReview: false });
  });
});

describe("the check refuses", () => {
  it("accepts the well-formed gated preview these cases start from", () => {
    expect(lines(check({ "pr.yml": GOOD_PREVIEW }))).toBe("");
  });

  it("a secret in job-level env, even behind a gate", () => {
    const yaml = GOOD_PREVIEW.replace(
      "    environment: production-preview\n",
      "    environment: production-preview\n    env:\n      TOKEN: ${{ secrets.SKE_GITHUB_TOKEN }}\n",
    );
    expect(rulesOf(check({ "pr.yml": yaml }), "preview")).toEqual(["job-wide-secret"]);
  });

  it("a secret in workflow-level env", () => {
    const yaml = `env:\n  P: \${{ secrets.PULUMI_CONFIG_PASSPHRASE }}\n${GOOD_PREVIEW}`;
    expect(check({ "pr.yml": yaml }).map((f) => `${f.job} ${f.rule}`)).toContain("(workflow) job-wide-secret");
  });

  it("an environment without required reviewers", () => {
    const findings = check({ "pr.yml": GOOD_PREVIEW }, withEnvironment("production-preview", { teamReview: false }));
    expect(rulesOf(findings, "preview")).toEqual(["runner-outside-gate", "ungated-environment"]);
  });

  it("an environment whose reviewers may approve their own run", () => {
    const findings = check(
      { "pr.yml": GOOD_PREVIEW },
      withEnvironment("production-preview", { preventSelfReview: false }),
    );
    expect(rulesOf(findings, "preview")).toEqual(["runner-outside-gate", "ungated-environment"]);
  });

  it("an environment admins may bypass", () => {
    const findings = check(
      { "pr.yml": GOOD_PREVIEW },
      withEnvironment("production-preview", { canAdminsBypass: true as false }),
    );
    expect(findings.find((f) => f.rule === "ungated-environment")!.message).toContain("admins can bypass");
  });

  it("a change (pulumi up) from an environment that any branch may use, even with reviewers", () => {
    const yaml = GOOD_PREVIEW.replace("pulumi preview --stack production", "pulumi up --yes --stack production");
    const findings = check({ "pr.yml": yaml });
    expect(rulesOf(findings, "preview")).toEqual(["runner-outside-gate", "ungated-change"]);
    expect(findings.find((f) => f.rule === "ungated-change")!.message).toContain("pulumi up");
  });

  it("a change from the drift environment, which has no reviewers", () => {
    const yaml = `
on:
  workflow_dispatch: {}
jobs:
  fix:
    runs-on: { group: ske-deploy-production, labels: [self-hosted, ske-deploy-production] }
    environment: production-drift
    steps:
      - run: pulumi refresh --yes --stack production
        env:
          PULUMI_CONFIG_PASSPHRASE: \${{ secrets.PULUMI_CONFIG_PASSPHRASE }}
`;
    expect(rulesOf(check({ "fix.yml": yaml }), "fix")).toEqual(["runner-outside-gate", "ungated-change"]);
  });

  it("repository-level secrets in a job with no environment", () => {
    const yaml = GOOD_PREVIEW.replace("    environment: production-preview\n", "").replace(PROD_RUNNER, "ubuntu-24.04");
    const findings = check({ "pr.yml": yaml });
    expect(rulesOf(findings, "preview")).toEqual(["repository-secret"]);
  });

  it("secrets: inherit, and secrets passed to a reusable workflow", () => {
    const called = `
on:
  workflow_call: {}
jobs:
  inner:
    runs-on: ubuntu-24.04
    steps:
      - run: echo hi
`;
    const inherit = `on: { push: { branches: [main] } }\njobs:\n  call:\n    uses: ./.github/workflows/called.yml\n    secrets: inherit\n`;
    expect(rulesOf(check({ "called.yml": called, "caller.yml": inherit }), "call")).toEqual(["secrets-inherit"]);
    const passed = `on: { push: { branches: [main] } }\njobs:\n  call:\n    uses: ./.github/workflows/called.yml\n    secrets:\n      P: \${{ secrets.PULUMI_CONFIG_PASSPHRASE }}\n`;
    expect(rulesOf(check({ "called.yml": called, "caller.yml": passed }), "call")).toEqual(["repository-secret"]);
  });

  it("an ungated environment reached through a reusable workflow's inputs", () => {
    const called = `
on:
  workflow_call:
    inputs:
      environment: { type: string, required: true }
jobs:
  inner:
    runs-on: ubuntu-24.04
    environment: \${{ inputs.environment }}
    steps:
      - run: pulumi preview
        env:
          P: \${{ secrets.PULUMI_CONFIG_PASSPHRASE }}
`;
    const caller = `on: { pull_request: {} }\njobs:\n  call:\n    strategy: { matrix: { stack: [test, production] } }\n    uses: ./.github/workflows/called.yml\n    with:\n      environment: \${{ matrix.stack }}-preview\n`;
    const findings = check(
      { "called.yml": called, "caller.yml": caller },
      withEnvironment("production-preview", { teamReview: false }),
    );
    expect(findings.map((f) => `${f.job}[${f.instance}] ${f.rule}`)).toEqual([
      "call>called.yml:inner[stack=production] ungated-environment",
    ]);
  });

  it("a workflow this check cannot read", () => {
    const yaml = `on: { push: {} }\njobs:\n  call:\n    uses: someone/else/.github/workflows/x.yml@0000000000000000000000000000000000000000\n`;
    expect(rulesOf(check({ "c.yml": yaml }), "call")).toEqual(["opaque-reusable-workflow"]);
  });

  it("an environment the program does not declare, and one chosen at dispatch time", () => {
    const undeclared = GOOD_PREVIEW.replace("environment: production-preview", "environment: prod");
    expect(rulesOf(check({ "pr.yml": undeclared }), "preview")).toContain("undeclared-environment");
    const dispatched = GOOD_PREVIEW.replace(
      "  pull_request:\n    branches: [main]",
      "  workflow_dispatch:\n    inputs:\n      env: { type: string, default: test-preview }",
    )
      .replace("environment: production-preview", "environment: ${{ inputs.env }}")
      .replace("    if: github.event.pull_request.head.repo.full_name == github.repository\n", "");
    expect(rulesOf(check({ "d.yml": dispatched }), "preview")).toContain("unresolved-environment");
  });

  it("a secret the environment does not declare (GitHub would fall back to a repository secret)", () => {
    const yaml = GOOD_PREVIEW.replace("secrets.PULUMI_CONFIG_PASSPHRASE", "secrets.ORG_DEPLOY_KEY");
    expect(rulesOf(check({ "pr.yml": yaml }), "preview")).toEqual(["undeclared-secret"]);
  });

  it("a secret read in a bare `if:` condition, which is an expression without ${{ }}", () => {
    const yaml = GOOD_PREVIEW.replace("    environment: production-preview\n", "")
      .replace(PROD_RUNNER, "ubuntu-24.04")
      .replace(/\n\s+env:\n.*PULUMI_CONFIG_PASSPHRASE.*\n/, "\n        if: secrets.DEPLOY_TOKEN != ''\n");
    expect(check({ "pr.yml": yaml }).map((f) => f.message)).toEqual([
      "reads secret DEPLOY_TOKEN with no deployment environment: a repository or organisation secret, behind no approval",
    ]);
  });

  it("a preview whose pulumi/actions refresh is not plainly off (the action's refresh saves state)", () => {
    const action = (refresh: string) =>
      GOOD_PREVIEW.replace(
        "      - run: pulumi preview --stack production\n",
        `      - uses: pulumi/actions@0000000000000000000000000000000000000000 # v1.0.0\n        with:\n          command: preview\n          refresh: ${refresh}\n`,
      );
    expect(rulesOf(check({ "pr.yml": action("false") }), "preview")).toEqual([]);
    expect(rulesOf(check({ "pr.yml": action("${{ inputs.refresh }}") }), "preview")).toEqual([
      "runner-outside-gate",
      "ungated-change",
    ]);
  });

  it("the whole secrets context", () => {
    const yaml = GOOD_PREVIEW.replace("${{ secrets.PULUMI_CONFIG_PASSPHRASE }}", "${{ toJSON(secrets) }}");
    expect(rulesOf(check({ "pr.yml": yaml }), "preview")).toContain("all-secrets");
  });

  it("a production runner without the gate, and a runner of one stack with another stack's credentials", () => {
    const noEnv = GOOD_PREVIEW.replace("    environment: production-preview\n", "").replace(
      /\n\s+env:\n.*PULUMI_CONFIG_PASSPHRASE.*\n/,
      "\n",
    );
    expect(rulesOf(check({ "pr.yml": noEnv }), "preview")).toEqual(["runner-outside-gate"]);
    const mismatch = GOOD_PREVIEW.replace("environment: production-preview", "environment: test-preview");
    expect(rulesOf(check({ "pr.yml": mismatch }), "preview")).toEqual(["runner-environment-mismatch"]);
    // Also when production declares no environments at all (its GitHub layer off).
    expect(
      rulesOf(
        check(
          { "pr.yml": noEnv },
          DECLARED.filter((e) => e.stack !== "production"),
        ),
        "preview",
      ),
    ).toEqual(["runner-outside-gate"]);
  });

  it("a pull request's code on a self-hosted runner without the same-repository guard (fork pull requests)", () => {
    const yaml = GOOD_PREVIEW.replace(
      "    if: github.event.pull_request.head.repo.full_name == github.repository\n",
      "",
    );
    expect(rulesOf(check({ "pr.yml": yaml }), "preview")).toEqual(["fork-on-self-hosted"]);
  });

  it("pull_request_target or workflow_run jobs that check out the pull request's code", () => {
    const target = `
on: pull_request_target
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@0000000000000000000000000000000000000000 # v1.0.0
        with:
          ref: \${{ github.event.pull_request.head.sha }}
      - run: npm test
`;
    expect(rulesOf(check({ "t.yml": target }), "build")).toEqual(["untrusted-checkout"]);
    const afterRun = target
      .replace("on: pull_request_target", "on:\n  workflow_run:\n    workflows: [ci]\n    types: [completed]")
      .replace("github.event.pull_request.head.sha", "github.event.workflow_run.head_sha");
    expect(rulesOf(check({ "r.yml": afterRun }), "build")).toEqual(["untrusted-checkout"]);
    const viaCli = target.replace(
      / {6}- uses: actions\/checkout[\s\S]*?head\.sha \}\}\n/,
      "      - run: gh pr checkout ${{ github.event.number }}\n",
    );
    expect(rulesOf(check({ "c.yml": viaCli }), "build")).toEqual(["untrusted-checkout"]);
    // The base branch's own code is what pull_request_target is for.
    const base = target.replace(/ {8}with:\n.*head\.sha \}\}\n/, "");
    expect(rulesOf(check({ "b.yml": base }), "build")).toEqual([]);
  });

  it("an attacker-written field expanded into a script", () => {
    const yaml = GOOD_PREVIEW.replace(
      "      - run: npm ci --ignore-scripts\n",
      '      - run: echo "${{ github.event.pull_request.title }}"\n',
    );
    expect(rulesOf(check({ "pr.yml": yaml }), "preview")).toEqual(["script-injection"]);
  });
});

/** The approved preview of production from main: pull_request_target, gated, pinned to the head commit. */
const GOOD_PRIVILEGED = `
on:
  pull_request_target:
    branches: [main]
jobs:
  preview:
    if: github.event.pull_request.head.repo.full_name == github.repository
    runs-on: { group: ske-deploy-production, labels: [self-hosted, ske-deploy-production] }
    environment: production-preview
    steps:
      - uses: actions/checkout@0000000000000000000000000000000000000000 # v1.0.0
        with:
          ref: \${{ github.event.pull_request.head.sha }}
      - run: npm ci --ignore-scripts
      - run: pulumi preview --stack production
        env:
          PULUMI_CONFIG_PASSPHRASE: \${{ secrets.PULUMI_CONFIG_PASSPHRASE }}
`;
/** The runner groups as the committed stacks declare them. */
const GROUPS = declaredRunnerGroups();
const checkGroups = (
  workflows: Record<string, string>,
  groups: Parameters<typeof checkTwoPersonRule>[0]["runnerGroups"] = GROUPS,
) =>
  checkTwoPersonRule({
    workflows: Object.fromEntries(Object.entries(workflows).map(([f, text]) => [f, parse(text)])),
    environments: ANY_BRANCH_PREVIEWS,
    gatedStacks: GATED_STACKS,
    runnerGroups: groups,
  });

describe("pull-request code in a privileged (pull_request_target, workflow_run) run", () => {
  it("is accepted behind an approval gate that prevents self-review, pinned to the head commit, only previewing", () => {
    expect(lines(check({ "p.yml": GOOD_PRIVILEGED }))).toBe("");
    const afterRun = GOOD_PRIVILEGED.replace(
      "  pull_request_target:\n    branches: [main]",
      "  workflow_run:\n    workflows: [ci]\n    types: [completed]",
    )
      .replace("    if: github.event.pull_request.head.repo.full_name == github.repository\n", "")
      .replace("github.event.pull_request.head.sha", "github.event.workflow_run.head_sha");
    expect(lines(check({ "r.yml": afterRun }))).toBe("");
  });

  it("is refused without a gate, and with test's automatic preview environment", () => {
    const ungated = GOOD_PRIVILEGED.replace("    environment: production-preview\n", "")
      .replace(/\n\s+env:\n.*PULUMI_CONFIG_PASSPHRASE.*\n/, "\n")
      .replace(PROD_RUNNER, "ubuntu-24.04");
    expect(rulesOf(check({ "p.yml": ungated }), "preview")).toEqual(["untrusted-checkout"]);
    expect(check({ "p.yml": ungated })[0]!.message).toContain("no deployment environment");
    const testEnv = GOOD_PRIVILEGED.replace("environment: production-preview", "environment: test-preview").replace(
      PROD_RUNNER,
      "{ group: ske-deploy-test, labels: [self-hosted, ske-deploy-test] }",
    );
    expect(rulesOf(check({ "p.yml": testEnv }), "preview")).toEqual(["untrusted-checkout"]);
  });

  it("is refused behind a main-only environment without reviewers: such a run is at refs/heads/main whatever it checks out", () => {
    const drift = GOOD_PRIVILEGED.replace("environment: production-preview", "environment: production-drift");
    const findings = check({ "p.yml": drift });
    expect(rulesOf(findings, "preview")).toEqual(["untrusted-checkout"]);
    expect(findings[0]!.message).toContain("production-drift needs no approval");
  });

  it("is refused when the gate lets the starter approve, or admins skip it", () => {
    for (const change of [{ preventSelfReview: false }, { canAdminsBypass: true as false }]) {
      const rules = rulesOf(
        check({ "p.yml": GOOD_PRIVILEGED }, withEnvironment("production-preview", change)),
        "preview",
      );
      expect(rules, JSON.stringify(change)).toContain("untrusted-checkout");
    }
  });

  it("is refused when it changes a stack, even behind the deploy environment's approval", () => {
    const up = GOOD_PRIVILEGED.replace("environment: production-preview", "environment: production").replace(
      "pulumi preview --stack production",
      "pulumi up --yes --stack production",
    );
    const findings = check({ "p.yml": up });
    expect(rulesOf(findings, "preview")).toEqual(["untrusted-checkout"]);
    expect(findings[0]!.message).toContain("changes production");
  });

  it("is refused when it checks out a moving ref (a branch name, the merge ref, gh pr checkout)", () => {
    for (const moving of ["github.event.pull_request.head.ref", "refs/pull/${{ github.event.number }}/merge"]) {
      const yaml = GOOD_PRIVILEGED.replace(
        "${{ github.event.pull_request.head.sha }}",
        moving.startsWith("github") ? `\${{ ${moving} }}` : moving,
      );
      const findings = check({ "p.yml": yaml });
      expect(rulesOf(findings, "preview"), moving).toEqual(["untrusted-checkout"]);
      expect(findings[0]!.message).toContain("moving ref");
    }
    const cli = GOOD_PRIVILEGED.replace(
      / {6}- uses: actions\/checkout[\s\S]*?head\.sha \}\}\n/,
      "      - run: gh pr checkout ${{ github.event.number }}\n",
    );
    expect(rulesOf(check({ "p.yml": cli }), "preview")).toEqual(["untrusted-checkout"]);
  });

  it("is refused without the fork guard", () => {
    const yaml = GOOD_PRIVILEGED.replace(
      "    if: github.event.pull_request.head.repo.full_name == github.repository\n",
      "",
    );
    expect(rulesOf(check({ "p.yml": yaml }), "preview")).toEqual(["fork-on-self-hosted"]);
  });
});

describe("the runner groups", () => {
  it("are declared restricted to the committed workflows that run on them for staging and production, and open for test", () => {
    expect(GROUPS).toEqual({
      production: ["pulumi-stack.yml", "drift.yml", "preview-privileged.yml"],
      staging: ["pulumi-stack.yml", "drift.yml", "preview-privileged.yml"],
      test: "any",
    });
  });

  it("agree with the committed workflows: every job on a restricted group is admitted by it", () => {
    expect(
      lines(
        checkTwoPersonRule({
          workflows: readWorkflows(WORKFLOW_DIR),
          environments: DECLARED,
          gatedStacks: GATED_STACKS,
          runnerGroups: GROUPS,
        }),
      ),
    ).toBe("");
  });

  it("refuse today's workflows under the groups of the runner branch (deploy.yml only): deploys, drift and previews would queue for ever", () => {
    const old = { production: ["deploy.yml"], staging: ["deploy.yml"], test: ["deploy.yml"] } as const;
    const findings = checkTwoPersonRule({
      workflows: readWorkflows(WORKFLOW_DIR),
      environments: DECLARED,
      gatedStacks: GATED_STACKS,
      runnerGroups: old,
    });
    const refused = findings
      .filter((f) => f.rule === "runner-group-refuses-workflow")
      .map((f) => `${f.file}: ${f.job}[${f.instance}]`);
    expect(refused).toContain("deploy.yml: deploy-production>pulumi-stack.yml:pulumi[]");
    expect(refused).toContain("drift.yml: detect[stack=production]");
    expect(refused).toContain("preview-privileged.yml: preview[stack=production]");
    expect(refused).toContain("pull-request.yml: preview[]");
  });

  it("refuse the workflows before this change: staging and production previews from pull_request, label-only runners, an unguarded reusable job", () => {
    const findings = checkTwoPersonRule({
      workflows: readWorkflows(BEFORE_RUNNER_GROUPS),
      environments: DECLARED,
      gatedStacks: GATED_STACKS,
      runnerGroups: GROUPS,
    });
    const refused = findings
      .filter((f) => f.rule === "runner-group-refuses-workflow")
      .map((f) => `${f.file}: ${f.job}[${f.instance}]`)
      .sort();
    expect(refused).toEqual([
      "pull-request.yml: preview[stack=production]",
      "pull-request.yml: preview[stack=staging]",
    ]);
    expect(findings.filter((f) => f.rule === "runner-group-missing").length).toBe(9);
    expect(findings.filter((f) => f.rule === "unguarded-reusable-on-runners").map((f) => f.file)).toEqual([
      "pulumi-stack.yml",
    ]);
  });

  it("refuse a listed workflow run from a pull request, whose ref the group cannot name", () => {
    const yaml = GOOD_PREVIEW;
    const findings = checkGroups({ "drift.yml": yaml });
    expect(rulesOf(findings, "preview")).toEqual(["runner-group-refuses-workflow"]);
    expect(findings[0]!.message).toContain("refs/pull/<n>/merge");
  });

  it("refuse a pull_request job in an environment that serves main only: GitHub matches it against refs/pull/<n>/merge", () => {
    const drift = GOOD_PREVIEW.replace("environment: production-preview", "environment: production-drift");
    const findings = check({ "pr.yml": drift });
    expect(rulesOf(findings, "preview")).toEqual(["environment-refuses-ref"]);
    expect(findings[0]!.message).toContain("refs/pull/<n>/merge");
    // Today's production-preview too: only main's pull_request_target run may ask for it.
    expect(rulesOf(check({ "pr.yml": GOOD_PREVIEW }, DECLARED), "preview")).toEqual(["environment-refuses-ref"]);
    // The same job from main's pull_request_target run is at the default branch.
    const target = drift.replace("  pull_request:\n", "  pull_request_target:\n");
    expect(rulesOf(check({ "pr.yml": target }), "preview")).toEqual([]);
  });

  it("refuse an unrestricted group for staging or production", () => {
    const findings = checkGroups({}, { ...GROUPS, production: "any" });
    expect(findings.map((f) => `${f.stack} ${f.rule}`)).toEqual(["production unrestricted-runner-group"]);
  });

  it("refuse a job on the runners by label only, or in another stack's group, or with another stack's environment", () => {
    const labelOnly = GOOD_PRIVILEGED.replace(PROD_RUNNER, "[self-hosted, ske-deploy-production]");
    expect(rulesOf(check({ "p.yml": labelOnly }), "preview")).toEqual(["runner-group-missing"]);
    const otherGroup = GOOD_PRIVILEGED.replace("group: ske-deploy-production", "group: ske-deploy-test");
    expect(rulesOf(check({ "p.yml": otherGroup }), "preview")).toEqual([
      "runner-environment-mismatch",
      "runner-group-mismatch",
    ]);
    const groupOnly = GOOD_PRIVILEGED.replace(PROD_RUNNER, "{ group: ske-deploy-production, labels: [self-hosted] }");
    expect(rulesOf(check({ "p.yml": groupOnly }), "preview")).toEqual(["runner-group-mismatch"]);
    const testEnvInProdGroup = GOOD_PREVIEW.replace("environment: production-preview", "environment: test-preview");
    expect(rulesOf(check({ "pr.yml": testEnvInProdGroup }), "preview")).toEqual(["runner-environment-mismatch"]);
  });

  it("refuse a listed reusable workflow whose runner job does not insist on main (a branch can call it at @main)", () => {
    const stackYml = fs.readFileSync(path.join(WORKFLOW_DIR, "pulumi-stack.yml"), "utf8");
    expect(stackYml).toContain("if: github.ref == 'refs/heads/main'");
    const workflows = readWorkflows(WORKFLOW_DIR);
    const unguarded = {
      ...workflows,
      "pulumi-stack.yml": parse(stackYml.replace("    if: github.ref == 'refs/heads/main'\n", "")),
    };
    const findings = checkTwoPersonRule({
      workflows: unguarded,
      environments: DECLARED,
      gatedStacks: GATED_STACKS,
      runnerGroups: GROUPS,
    });
    expect(findings.map((f) => `${f.file}: ${f.job} ${f.rule}`)).toEqual([
      "pulumi-stack.yml: pulumi unguarded-reusable-on-runners",
    ]);
    const bypassed = {
      ...workflows,
      "pulumi-stack.yml": parse(
        stackYml.replace(
          "if: github.ref == 'refs/heads/main'",
          "if: github.ref == 'refs/heads/main' || inputs.stack == 'test'",
        ),
      ),
    };
    const orFindings = checkTwoPersonRule({
      workflows: bypassed,
      environments: DECLARED,
      gatedStacks: GATED_STACKS,
      runnerGroups: GROUPS,
    });
    expect(orFindings.map((f) => f.rule)).toEqual(["unguarded-reusable-on-runners"]);
  });
});

describe("the command-line check that .ci/run runs", () => {
  const run = (...args: string[]) =>
    spawnSync(
      process.execPath,
      [path.join(ROOT, "scripts", "run-ts.cjs"), path.join(ROOT, "scripts", "ci-two-person-rule.ts"), ...args],
      { cwd: ROOT, encoding: "utf8" },
    );

  it("exits 0 on the committed workflows and 1, naming the production preview, on the ones before the rule", () => {
    const now = run();
    expect(now.status, now.stderr + now.stdout).toBe(0);
    expect(now.stdout).toContain("0 finding(s)");
    // The committed environments are today's: the old workflows still fail on job-wide secrets,
    // and their pull_request previews of production and staging would be refused by the main-only environments.
    const before = run(BEFORE);
    expect(before.status).toBe(1);
    expect(before.stdout).toMatch(/^pull-request\.yml: preview\[stack=production\]: environment-refuses-ref: /m);
    // With the environments of that time, the production preview could change production unapproved.
    const then = run(BEFORE, "--environments", path.join(BEFORE, "environments.json"));
    expect(then.stdout).toMatch(/^pull-request\.yml: preview\[stack=production\]: ungated-change: /m);
  });

  it("exits 1 on the workflows and runner groups as the two branches merged them: previews and drift would queue for ever", () => {
    const merged = run(BEFORE_RUNNER_GROUPS, "--runner-groups", path.join(BEFORE_RUNNER_GROUPS, "runner-groups.json"));
    expect(merged.status, merged.stderr).toBe(1);
    expect(merged.stdout).toMatch(/^pull-request\.yml: preview\[stack=production\]: runner-group-refuses-workflow: /m);
    expect(merged.stdout).toMatch(/^drift\.yml: detect\[stack=production\]: runner-group-refuses-workflow: /m);
    expect(merged.stdout).toMatch(
      /^deploy\.yml: deploy-production>pulumi-stack\.yml:pulumi: runner-group-refuses-workflow: .*pulumi-stack\.yml would wait/m,
    );
  });
});
