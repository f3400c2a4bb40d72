import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../plan/address-plan";
import {
  IAC_REQUIRED_CHECKS,
  deployEnvironmentName,
  deployRunnerLabel,
  driftEnvironmentName,
  previewCheckName,
  previewEnvironmentName,
} from "../plan/change-management";
import { ROOT } from "./support/stacks";
import { REVIEW_DIFF_GATE_CHECK } from "../plan/change-management";

const DIR = path.join(ROOT, ".github", "workflows");
const FILES = fs
  .readdirSync(DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const text = (file: string) => fs.readFileSync(path.join(DIR, file), "utf8");
const workflow = (file: string) => parse(text(file)) as Record<string, any>;
const jobs = (file: string) => Object.entries(workflow(file).jobs as Record<string, any>);
const REUSABLE = "./.github/workflows/pulumi-stack.yml";
const PULUMI_ACTION = /^pulumi\/actions@/;
/** Stacks whose previews wait for approval in preview-privileged.yml, which posts their checks. */
const POSTED_PREVIEWS = ENVIRONMENTS.filter((e) => e !== "test");

/** Names a job reports as status checks: its `name` with each matrix value filled in. */
function checkNames(id: string, job: Record<string, any>): string[] {
  const name: string = job.name ?? id;
  const matrix = job.strategy?.matrix as Record<string, unknown[]> | undefined;
  if (!matrix) return [name];
  let names = [name];
  for (const [key, values] of Object.entries(matrix)) {
    names = names.flatMap((n) =>
      n.includes(`matrix.${key}`)
        ? values.map((v) => n.replace(new RegExp(`\\$\\{\\{\\s*matrix\\.${key}\\s*\\}\\}`), String(v)))
        : [n],
    );
  }
  return names;
}

function steps(job: Record<string, any>): Record<string, any>[] {
  return (job.steps ?? []) as Record<string, any>[];
}

describe("the workflow files", () => {
  it("exist for pull requests, deploys, drift and the shared stack job", () => {
    expect(FILES).toEqual([
      "deploy.yml",
      "drift.yml",
      "preview-privileged.yml",
      "pull-request.yml",
      "pulumi-stack.yml",
      "review-diff-comment.yml",
      "review-diff.yml",
    ]);
  });

  it("pin every action to a full commit SHA with its release as a comment", () => {
    for (const file of FILES) {
      const lines = text(file)
        .split("\n")
        .filter((l) => /^\s*(-\s+)?uses:/.test(l));
      expect(lines.length, file).toBeGreaterThan(0);
      for (const line of lines) {
        const ref = line.replace(/^\s*(-\s+)?uses:\s*/, "");
        if (ref.startsWith("./")) continue; // a workflow of this repository, at this commit
        expect(ref, `${file}: ${line.trim()}`).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
      }
    }
  });

  it("grant only `contents: read` at the top of every workflow", () => {
    for (const file of FILES) expect(workflow(file).permissions, file).toEqual({ contents: "read" });
  });

  it("give `pull-requests: write` only to the jobs that comment: the preview and the review-diff comment", () => {
    const writers = FILES.flatMap((file) =>
      jobs(file)
        .filter(([, job]) => job.permissions?.["pull-requests"] === "write")
        .map(([id]) => `${file}:${id}`),
    );
    // review-diff-comment.yml: the trusted job that posts the review diff (test/review-diff-workflows.test.ts).
    expect(writers).toEqual(["pull-request.yml:preview", "review-diff-comment.yml:comment"]);
    const commenting = FILES.flatMap((file) =>
      jobs(file).flatMap(([id, job]) =>
        steps(job)
          .filter((s) => s.with?.["comment-on-pr"] === true)
          .map(() => `${file}:${id}`),
      ),
    );
    expect(commenting).toEqual(["pull-request.yml:preview"]);
  });

  it("give no job any write permission beyond what it needs", () => {
    const allowed: Record<string, Record<string, string>> = {
      "pull-request.yml:preview": { contents: "read", "pull-requests": "write" },
      "drift.yml:report": { issues: "write" },
      // Post preview-<stack> on the pull request's head commit; neither job runs the pull request's code.
      "preview-privileged.yml:announce": { checks: "write" },
      "preview-privileged.yml:report": { actions: "read", checks: "write" },
      "review-diff-comment.yml:comment": {
        contents: "read",
        actions: "read",
        checks: "write",
        "pull-requests": "write",
      },
    };
    for (const file of FILES) {
      for (const [id, job] of jobs(file)) {
        const writes = Object.entries((job.permissions ?? {}) as Record<string, string>).filter(
          ([, v]) => v !== "read",
        );
        const expected = Object.entries(allowed[`${file}:${id}`] ?? {}).filter(([, v]) => v !== "read");
        expect(writes, `${file}:${id}`).toEqual(expected);
      }
    }
  });

  it("install with no lifecycle scripts: setup-node provides Node 22, so no install script runs a dependency's code", () => {
    const installs = FILES.flatMap((file) =>
      jobs(file).flatMap(([, job]) =>
        steps(job)
          .map((s) => String(s.run ?? ""))
          .filter((r) => /\bnpm (ci|install|i)\b/.test(r)),
      ),
    );
    expect(installs.length).toBeGreaterThan(0);
    for (const install of installs) expect(install).toBe("npm ci --ignore-scripts");
    for (const file of FILES) {
      for (const [id, job] of jobs(file)) {
        if (steps(job).some((s) => String(s.run ?? "").startsWith("npm "))) {
          expect(
            steps(job).some((s) => String(s.uses).startsWith("actions/setup-node@")),
            `${file}:${id}`,
          ).toBe(true);
        }
      }
    }
  });

  it("set up Node 22", () => {
    for (const file of FILES) {
      for (const [, job] of jobs(file)) {
        for (const step of steps(job).filter((s) => String(s.uses).startsWith("actions/setup-node@"))) {
          expect(String(step.with["node-version"])).toBe("22");
        }
      }
    }
  });
});

describe("pull requests", () => {
  const pr = workflow("pull-request.yml");

  it("run on pull requests to main", () => {
    expect(pr.on).toEqual({ pull_request: { branches: ["main"] } });
  });

  it("report exactly the status checks the ruleset on main requires", () => {
    const reported = jobs("pull-request.yml").flatMap(([id, job]) => checkNames(id, job));
    // The gate is posted by review-diff-comment.yml, and the previews of
    // staging and production by preview-privileged.yml, not by jobs of this workflow.
    const posted = [REVIEW_DIFF_GATE_CHECK, ...POSTED_PREVIEWS.map(previewCheckName)];
    expect(reported.sort()).toEqual(IAC_REQUIRED_CHECKS.filter((c) => !posted.includes(c)).sort());
    expect(IAC_REQUIRED_CHECKS).toEqual(expect.arrayContaining(posted));
  });

  it("install, typecheck, test and synth every stack", () => {
    const runs = jobs("pull-request.yml").flatMap(([, job]) => steps(job).map((s) => String(s.run ?? "")));
    for (const command of ["npm ci --ignore-scripts", "npm run typecheck", "npm test", "scripts/actionlint.sh"]) {
      expect(runs, command).toContain(command);
    }
    const synth = runs.find((r) => r.includes("npm run synth"))!;
    for (const stack of ENVIRONMENTS) expect(synth).toContain(stack);
  });

  it("preview test through pulumi/actions with the policy pack, posting the result on the pull request", () => {
    const preview = pr.jobs.preview;
    expect(checkNames("preview", preview)).toEqual([previewCheckName("test")]);
    const action = steps(preview).find((s) => PULUMI_ACTION.test(String(s.uses)))!;
    expect(action.with).toMatchObject({
      command: "preview",
      "stack-name": "test",
      "comment-on-pr": true,
      policyPacks: "policy",
      // pulumi/actions' refresh saves state; a pull request must not write it.
      refresh: false,
    });
  });

  it("preview test on test's own runner group, and never a fork's pull request", () => {
    const preview = pr.jobs.preview;
    expect(preview["runs-on"]).toEqual({
      group: deployRunnerLabel("test"),
      labels: ["self-hosted", deployRunnerLabel("test")],
    });
    expect(preview.if).toBe("github.event.pull_request.head.repo.full_name == github.repository");
  });

  it("give test's preview read-only credentials from test-preview, never the deploy environment", () => {
    expect(pr.jobs.preview.environment).toBe(previewEnvironmentName("test"));
  });
});

describe("previews of staging and production, from main, after approval", () => {
  const privileged = workflow("preview-privileged.yml");
  const preview = privileged.jobs.preview;
  const sameRepository = "github.event.pull_request.head.repo.full_name == github.repository";

  it("run on pull_request_target to main, so the run is main's file at refs/heads/main, which the runner groups admit", () => {
    expect(privileged.on).toEqual({
      pull_request_target: { branches: ["main"], types: ["opened", "synchronize", "reopened"] },
    });
    expect(preview.strategy.matrix.stack).toEqual([...POSTED_PREVIEWS]);
  });

  it("wait in <stack>-preview on the stack's own runner group, and never for a fork", () => {
    expect(POSTED_PREVIEWS.map((e) => preview.environment.replace("${{ matrix.stack }}", e))).toEqual(
      POSTED_PREVIEWS.map(previewEnvironmentName),
    );
    expect(preview["runs-on"]).toEqual({
      group: "ske-deploy-${{ matrix.stack }}",
      labels: ["self-hosted", "ske-deploy-${{ matrix.stack }}"],
    });
    for (const job of Object.values(privileged.jobs as Record<string, any>))
      expect(String(job.if)).toContain(sameRepository);
  });

  it("check out the head commit the run was started for, with no write token, and only preview without refresh", () => {
    const checkout = steps(preview).find((s) => String(s.uses).startsWith("actions/checkout@"))!;
    expect(checkout.with).toEqual({ ref: "${{ github.event.pull_request.head.sha }}", "persist-credentials": false });
    expect(preview.permissions).toEqual({ contents: "read" });
    const action = steps(preview).find((s) => PULUMI_ACTION.test(String(s.uses)))!;
    expect(action.with).toMatchObject({
      command: "preview",
      "stack-name": "${{ matrix.stack }}",
      policyPacks: "policy",
      refresh: false,
      "comment-on-pr": false,
    });
  });

  it("post preview-<stack> on the head commit, failing unless the approved preview succeeded, from jobs that run no pull-request code", () => {
    for (const id of ["announce", "report"]) {
      const job = privileged.jobs[id];
      expect(job.strategy.matrix.stack, id).toEqual([...POSTED_PREVIEWS]);
      expect(
        steps(job).some((s) => s.uses),
        id,
      ).toBe(false);
      const script = steps(job)
        .map((s) => String(s.run))
        .join("\n");
      expect(script, id).toContain('"repos/$REPO/check-runs"');
      expect(script, id).toContain('name: ("preview-" + $stack)');
      expect(steps(job)[0]!.env.HEAD_SHA, id).toBe("${{ github.event.pull_request.head.sha }}");
    }
    const report = privileged.jobs.report;
    expect(report.needs).toBe("preview");
    expect(report.if).toMatch(/^always\(\) && /);
    const script = String(steps(report)[0]!.run);
    expect(script).toContain('select(.name == \\"approved-preview-$STACK\\")');
    expect(preview.name).toBe("approved-preview-${{ matrix.stack }}");
    expect(script).toMatch(/success\) conclusion=success ;;[\s\S]*\*\) conclusion=failure ;;/);
  });
});

describe("deploys on push to main", () => {
  const deploy = workflow("deploy.yml");
  const stackJob = workflow("pulumi-stack.yml").jobs.pulumi;

  it("run on pushes to main only", () => {
    expect(deploy.on).toEqual({ push: { branches: ["main"] } });
  });

  it("run `pulumi up` for test, then staging, then production, each in its own environment", () => {
    const order: string[] = [];
    let next: string | undefined = Object.entries(deploy.jobs as Record<string, any>).find(([, j]) => !j.needs)?.[0];
    while (next) {
      const job = deploy.jobs[next];
      expect(job.uses).toBe(REUSABLE);
      expect(job.with.command).toBe("up");
      expect(job.with.environment).toBe(deployEnvironmentName(job.with.stack));
      order.push(job.with.stack);
      const current: string = next;
      next = Object.entries(deploy.jobs as Record<string, any>).find(([, j]) =>
        [j.needs].flat().includes(current),
      )?.[0];
    }
    expect(order).toEqual(["test", "staging", "production"]);
  });

  it("never run two deploys of one stack at once, nor cancel one halfway", () => {
    const groups = Object.values(deploy.jobs as Record<string, any>).map((job) => {
      expect(job.concurrency["cancel-in-progress"]).toBe(false);
      expect(job.concurrency.group).toContain(job.with.stack);
      return job.concurrency.group;
    });
    expect(new Set(groups).size).toBe(ENVIRONMENTS.length);
  });

  it("run the shared stack job in the environment it is given, on that stack's runners, so only that environment's secrets and network are reachable", () => {
    expect(stackJob.environment).toBe("${{ inputs.environment }}");
    expect(stackJob["runs-on"]).toEqual({
      group: "ske-deploy-${{ inputs.stack }}",
      labels: ["self-hosted", "ske-deploy-${{ inputs.stack }}"],
    });
    expect(deployRunnerLabel("production")).toBe(
      stackJob["runs-on"].labels[1].replace("${{ inputs.stack }}", "production"),
    );
    // Listed in the runner groups, so a branch could call it at @main: only main's own runs get past this.
    expect(stackJob.if).toBe("github.ref == 'refs/heads/main'");
    const action = steps(stackJob).find((s) => PULUMI_ACTION.test(String(s.uses)))!;
    expect(action.with).toMatchObject({
      command: "${{ inputs.command }}",
      "stack-name": "${{ inputs.stack }}",
      policyPacks: "policy",
      refresh: true,
    });
  });
});

describe("credentials and state backend", () => {
  const pulumiStep = (job: Record<string, any>) =>
    steps(job).find((s) => PULUMI_ACTION.test(String(s.uses)) || /^pulumi preview\b/.test(String(s.run ?? "")))!;
  const credentialed = [
    ["pull-request.yml", workflow("pull-request.yml").jobs.preview],
    ["preview-privileged.yml", workflow("preview-privileged.yml").jobs.preview],
    ["pulumi-stack.yml", workflow("pulumi-stack.yml").jobs.pulumi],
    ["drift.yml", workflow("drift.yml").jobs.detect],
  ] as const;

  it("reach only jobs that declare a deployment environment", () => {
    for (const file of FILES) {
      expect(JSON.stringify(workflow(file).env ?? {}), `${file} workflow-level env`).not.toContain("secrets.");
      for (const [id, job] of jobs(file)) {
        if (JSON.stringify(job).includes("secrets.")) expect(job.environment, `${file}:${id}`).toBeTruthy();
      }
    }
  });

  it.each(credentialed)(
    "%s: restores no npm cache, which an unapproved run of the same branch could have written",
    (_file, job) => {
      const setups = steps(job).filter((s) => String(s.uses).startsWith("actions/setup-node@"));
      expect(setups).toHaveLength(1);
      expect(setups[0]!.with).not.toHaveProperty("cache");
    },
  );

  it.each(credentialed)(
    "%s: uses OpenStack application credentials and the S3-compatible state from environment secrets, on the pulumi step only",
    (_file, job) => {
      expect(job.env).toMatchObject({
        PULUMI_BACKEND_URL: "${{ vars.PULUMI_BACKEND_URL }}",
        OS_AUTH_TYPE: "v3applicationcredential",
      });
      expect(JSON.stringify(job.env)).not.toContain("secrets.");
      const step = pulumiStep(job);
      expect(step.env).toMatchObject({
        PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
        OS_APPLICATION_CREDENTIAL_ID: "${{ secrets.OS_APPLICATION_CREDENTIAL_ID }}",
        OS_APPLICATION_CREDENTIAL_SECRET: "${{ secrets.OS_APPLICATION_CREDENTIAL_SECRET }}",
      });
      for (const other of steps(job).filter((s) => s !== step))
        expect(JSON.stringify(other), `${other.name ?? other.uses ?? other.run}`).not.toContain("secrets.");
    },
  );
});

describe("drift detection", () => {
  const drift = workflow("drift.yml");

  it("runs on a schedule, previewing every stack against the real world with expect-no-changes, saving nothing", () => {
    expect(drift.on.schedule).toHaveLength(1);
    const detect = drift.jobs.detect;
    expect(detect.strategy.matrix.stack).toEqual([...ENVIRONMENTS]);
    expect(detect.environment).toBe("${{ matrix.stack }}-drift");
    expect(ENVIRONMENTS.map((e) => detect.environment.replace("${{ matrix.stack }}", e))).toEqual(
      ENVIRONMENTS.map(driftEnvironmentName),
    );
    expect(detect["runs-on"]).toEqual({
      group: "ske-deploy-${{ matrix.stack }}",
      labels: ["self-hosted", "ske-deploy-${{ matrix.stack }}"],
    });
    const scripts = steps(detect)
      .map((s) => String(s.run ?? ""))
      .join("\n");
    expect(scripts).toMatch(/pulumi preview --stack "\$\{STACK\}" --refresh --expect-no-changes/);
    // `pulumi refresh` and pulumi/actions' refresh save the refreshed state; `preview --refresh` does not.
    expect(scripts).not.toMatch(/pulumi refresh|pulumi up/);
    expect(steps(detect).some((s) => PULUMI_ACTION.test(String(s.uses)))).toBe(false);
  });

  it("fails loudly: a failed detection opens or updates an issue and fails the run", () => {
    const report = drift.jobs.report;
    expect(report.needs).toBe("detect");
    expect(report.if).toBe("failure()");
    const script = steps(report)
      .map((s) => String(s.run ?? ""))
      .join("\n");
    expect(script).toContain("gh issue create");
    expect(script).toMatch(/exit 1\s*$/);
  });
});
