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
import { GATED_STACKS, WORKFLOW_DIR, checkRepository, declaredEnvironments, readWorkflows } from "../scripts/ci-two-person-rule/load";
import { ROOT } from "./support/stacks";

const BEFORE = path.join(ROOT, "test", "fixtures", "workflows", "before-two-person");
const BEFORE_ENVIRONMENTS = JSON.parse(fs.readFileSync(path.join(BEFORE, "environments.json"), "utf8")) as EnvironmentPlan[];
const DECLARED = declaredEnvironments();

const lines = (findings: Finding[]) => findings.map(formatFinding).join("\n");
const check = (workflows: Record<string, string>, environments: readonly EnvironmentPlan[] = DECLARED) =>
  checkTwoPersonRule({
    workflows: Object.fromEntries(Object.entries(workflows).map(([f, text]) => [f, parse(text)])),
    environments,
    gatedStacks: GATED_STACKS,
  });
/** The declared environments with one of them changed. */
function withEnvironment(name: string, change: Partial<EnvironmentPlan>): EnvironmentPlan[] {
  expect(DECLARED.map((e) => e.name)).toContain(name);
  return DECLARED.map((e) => (e.name === name ? ({ ...e, ...change } as EnvironmentPlan) : e));
}
const rulesOf = (findings: Finding[], job: string) => [...new Set(findings.filter((f) => f.job === job).map((f) => f.rule))].sort();

/** A gated production preview done right; each negative case below breaks one thing. */
const GOOD_PREVIEW = `
on:
  pull_request:
    branches: [main]
jobs:
  preview:
    if: github.event.pull_request.head.repo.full_name == github.repository
    runs-on: [self-hosted, ske-deploy-production]
    environment: production-preview
    steps:
      - uses: actions/checkout@0000000000000000000000000000000000000000 # v1.0.0
      - run: npm ci --ignore-scripts
      - run: pulumi preview --stack production
        env:
          PULUMI_CONFIG_PASSPHRASE: \${{ secrets.PULUMI_CONFIG_PASSPHRASE }}
`;

describe("the workflows and environments before the two-person rule", () => {
  const findings = checkTwoPersonRule({ workflows: readWorkflows(BEFORE), environments: BEFORE_ENVIRONMENTS, gatedStacks: GATED_STACKS });

  it("let the pull-request preview of production and staging reach their secrets with no approval", () => {
    const ungated = findings.filter((f) => f.file === "pull-request.yml" && f.job === "preview" && f.rule.startsWith("ungated-"));
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
    const now = checkTwoPersonRule({ workflows: readWorkflows(BEFORE), environments: DECLARED, gatedStacks: GATED_STACKS });
    const preview = now.filter((f) => f.file === "pull-request.yml" && f.job === "preview" && f.instance === "stack=production");
    expect(preview.map((f) => f.rule).sort()).toEqual(["job-wide-secret", "ungated-change"]);
    expect(preview.find((f) => f.rule === "ungated-change")!.message).toContain("refresh: true");
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
      environments: withEnvironment(previewEnvironmentName("production"), { teamReview: false, preventSelfReview: false }),
      gatedStacks: GATED_STACKS,
    });
    expect(findings.map((f) => `${f.job}[${f.instance}] ${f.rule}`).sort()).toEqual([
      "preview[stack=production] runner-outside-gate",
      "preview[stack=production] ungated-environment",
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
          if (text.includes(`"${name}"`) || text.includes(`"\${{ matrix.stack }}-${name.slice(stack.length + 1)}"`)) used.add(name);
        }
      }
    }
    // deploy.yml names each deploy environment; the matrix jobs name <stack>-preview and <stack>-drift.
    expect([...used].sort()).toEqual(DECLARED.map((e) => e.name).sort());
  });
});

describe("the environments the program declares", () => {
  it.each(GATED_STACKS)("%s: preview needs the team's approval, never the starter's own, and admins cannot skip it", (stack) => {
    const preview = DECLARED.find((e) => e.name === previewEnvironmentName(stack))!;
    expect(preview).toMatchObject({ stack, purpose: "preview", teamReview: true, preventSelfReview: true, canAdminsBypass: false, allowedBranches: "all" });
  });

  it.each(GATED_STACKS)("%s: deploys need the team's approval and come from main only", (stack) => {
    const deploy = DECLARED.find((e) => e.name === deployEnvironmentName(stack))!;
    expect(deploy).toMatchObject({ teamReview: true, preventSelfReview: true, canAdminsBypass: false, allowedBranches: [PROTECTED_BRANCH] });
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
    const yaml = GOOD_PREVIEW.replace("    environment: production-preview\n", "    environment: production-preview\n    env:\n      TOKEN: ${{ secrets.SKE_GITHUB_TOKEN }}\n");
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
    const findings = check({ "pr.yml": GOOD_PREVIEW }, withEnvironment("production-preview", { preventSelfReview: false }));
    expect(rulesOf(findings, "preview")).toEqual(["runner-outside-gate", "ungated-environment"]);
  });

  it("an environment admins may bypass", () => {
    const findings = check({ "pr.yml": GOOD_PREVIEW }, withEnvironment("production-preview", { canAdminsBypass: true as false }));
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
    runs-on: [self-hosted, ske-deploy-production]
    environment: production-drift
    steps:
      - run: pulumi refresh --yes --stack production
        env:
          PULUMI_CONFIG_PASSPHRASE: \${{ secrets.PULUMI_CONFIG_PASSPHRASE }}
`;
    expect(rulesOf(check({ "fix.yml": yaml }), "fix")).toEqual(["runner-outside-gate", "ungated-change"]);
  });

  it("repository-level secrets in a job with no environment", () => {
    const yaml = GOOD_PREVIEW.replace("    environment: production-preview\n", "").replace("[self-hosted, ske-deploy-production]", "ubuntu-24.04");
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
    const findings = check({ "called.yml": called, "caller.yml": caller }, withEnvironment("production-preview", { teamReview: false }));
    expect(findings.map((f) => `${f.job}[${f.instance}] ${f.rule}`)).toEqual(["call>called.yml:inner[stack=production] ungated-environment"]);
  });

  it("a workflow this check cannot read", () => {
    const yaml = `on: { push: {} }\njobs:\n  call:\n    uses: someone/else/.github/workflows/x.yml@0000000000000000000000000000000000000000\n`;
    expect(rulesOf(check({ "c.yml": yaml }), "call")).toEqual(["opaque-reusable-workflow"]);
  });

  it("an environment the program does not declare, and one chosen at dispatch time", () => {
    const undeclared = GOOD_PREVIEW.replace("environment: production-preview", "environment: prod");
    expect(rulesOf(check({ "pr.yml": undeclared }), "preview")).toContain("undeclared-environment");
    const dispatched = GOOD_PREVIEW.replace("  pull_request:\n    branches: [main]", "  workflow_dispatch:\n    inputs:\n      env: { type: string, default: test-preview }")
      .replace("environment: production-preview", "environment: ${{ inputs.env }}")
      .replace("    if: github.event.pull_request.head.repo.full_name == github.repository\n", "");
    expect(rulesOf(check({ "d.yml": dispatched }), "preview")).toContain("unresolved-environment");
  });

  it("a secret the environment does not declare (GitHub would fall back to a repository secret)", () => {
    const yaml = GOOD_PREVIEW.replace("secrets.PULUMI_CONFIG_PASSPHRASE", "secrets.ORG_DEPLOY_KEY");
    expect(rulesOf(check({ "pr.yml": yaml }), "preview")).toEqual(["undeclared-secret"]);
  });

  it("a secret read in a bare `if:` condition, which is an expression without ${{ }}", () => {
    const yaml = GOOD_PREVIEW.replace("    environment: production-preview\n", "").replace("[self-hosted, ske-deploy-production]", "ubuntu-24.04")
      .replace(/\n\s+env:\n.*PULUMI_CONFIG_PASSPHRASE.*\n/, "\n        if: secrets.DEPLOY_TOKEN != ''\n");
    expect(check({ "pr.yml": yaml }).map((f) => f.message)).toEqual([
      "reads secret DEPLOY_TOKEN with no deployment environment: a repository or organisation secret, behind no approval",
    ]);
  });

  it("a preview whose pulumi/actions refresh is not plainly off (the action's refresh saves state)", () => {
    const action = (refresh: string) => GOOD_PREVIEW.replace(
      "      - run: pulumi preview --stack production\n",
      `      - uses: pulumi/actions@0000000000000000000000000000000000000000 # v1.0.0\n        with:\n          command: preview\n          refresh: ${refresh}\n`,
    );
    expect(rulesOf(check({ "pr.yml": action("false") }), "preview")).toEqual([]);
    expect(rulesOf(check({ "pr.yml": action("${{ inputs.refresh }}") }), "preview")).toEqual(["runner-outside-gate", "ungated-change"]);
  });

  it("the whole secrets context", () => {
    const yaml = GOOD_PREVIEW.replace("${{ secrets.PULUMI_CONFIG_PASSPHRASE }}", "${{ toJSON(secrets) }}");
    expect(rulesOf(check({ "pr.yml": yaml }), "preview")).toContain("all-secrets");
  });

  it("a production runner without the gate, and a runner of one stack with another stack's credentials", () => {
    const noEnv = GOOD_PREVIEW.replace("    environment: production-preview\n", "").replace(/\n\s+env:\n.*PULUMI_CONFIG_PASSPHRASE.*\n/, "\n");
    expect(rulesOf(check({ "pr.yml": noEnv }), "preview")).toEqual(["runner-outside-gate"]);
    const mismatch = GOOD_PREVIEW.replace("environment: production-preview", "environment: test-preview");
    expect(rulesOf(check({ "pr.yml": mismatch }), "preview")).toEqual(["runner-environment-mismatch"]);
    // Also when production declares no environments at all (its GitHub layer off).
    expect(rulesOf(check({ "pr.yml": noEnv }, DECLARED.filter((e) => e.stack !== "production")), "preview")).toEqual(["runner-outside-gate"]);
  });

  it("a pull request's code on a self-hosted runner without the same-repository guard (fork pull requests)", () => {
    const yaml = GOOD_PREVIEW.replace("    if: github.event.pull_request.head.repo.full_name == github.repository\n", "");
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
    const afterRun = target.replace("on: pull_request_target", "on:\n  workflow_run:\n    workflows: [ci]\n    types: [completed]")
      .replace("github.event.pull_request.head.sha", "github.event.workflow_run.head_sha");
    expect(rulesOf(check({ "r.yml": afterRun }), "build")).toEqual(["untrusted-checkout"]);
    const viaCli = target.replace(/      - uses: actions\/checkout[\s\S]*?head\.sha \}\}\n/, "      - run: gh pr checkout ${{ github.event.number }}\n");
    expect(rulesOf(check({ "c.yml": viaCli }), "build")).toEqual(["untrusted-checkout"]);
    // The base branch's own code is what pull_request_target is for.
    const base = target.replace(/        with:\n.*head\.sha \}\}\n/, "");
    expect(rulesOf(check({ "b.yml": base }), "build")).toEqual([]);
  });

  it("an attacker-written field expanded into a script", () => {
    const yaml = GOOD_PREVIEW.replace("      - run: npm ci --ignore-scripts\n", '      - run: echo "${{ github.event.pull_request.title }}"\n');
    expect(rulesOf(check({ "pr.yml": yaml }), "preview")).toEqual(["script-injection"]);
  });
});

describe("the command-line check that .ci/run runs", () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [path.join(ROOT, "scripts", "run-ts.cjs"), path.join(ROOT, "scripts", "ci-two-person-rule.ts"), ...args], { cwd: ROOT, encoding: "utf8" });

  it("exits 0 on the committed workflows and 1, naming the production preview, on the ones before the rule", () => {
    const now = run();
    expect(now.status, now.stderr + now.stdout).toBe(0);
    expect(now.stdout).toContain("0 finding(s)");
    // The committed environments are today's: the old workflows still fail on job-wide secrets and state writes.
    const before = run(BEFORE);
    expect(before.status).toBe(1);
    expect(before.stdout).toMatch(/^pull-request\.yml: preview\[stack=production\]: ungated-change: /m);
  });
});
