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
const FILES = fs.readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort();
const text = (file: string) => fs.readFileSync(path.join(DIR, file), "utf8");
const workflow = (file: string) => parse(text(file)) as Record<string, any>;
const jobs = (file: string) => Object.entries(workflow(file).jobs as Record<string, any>);
const REUSABLE = "./.github/workflows/pulumi-stack.yml";
const PULUMI_ACTION = /^pulumi\/actions@/;

/** Names a job reports as status checks: its `name` with each matrix value filled in. */
function checkNames(id: string, job: Record<string, any>): string[] {
  const name: string = job.name ?? id;
  const matrix = job.strategy?.matrix as Record<string, unknown[]> | undefined;
  if (!matrix) return [name];
  let names = [name];
  for (const [key, values] of Object.entries(matrix)) {
    names = names.flatMap((n) => (n.includes(`matrix.${key}`) ? values.map((v) => n.replace(new RegExp(`\\$\\{\\{\\s*matrix\\.${key}\\s*\\}\\}`), String(v))) : [n]));
  }
  return names;
}

function steps(job: Record<string, any>): Record<string, any>[] {
  return (job.steps ?? []) as Record<string, any>[];
}

describe("the workflow files", () => {
  it("exist for pull requests, deploys, drift and the shared stack job", () => {
    expect(FILES).toEqual(["deploy.yml", "drift.yml", "pull-request.yml", "pulumi-stack.yml", "review-diff-comment.yml", "review-diff.yml"]);
  });

  it("pin every action to a full commit SHA with its release as a comment", () => {
    for (const file of FILES) {
      const lines = text(file).split("\n").filter((l) => /^\s*(-\s+)?uses:/.test(l));
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
      jobs(file).filter(([, job]) => job.permissions?.["pull-requests"] === "write").map(([id]) => `${file}:${id}`),
    );
    // review-diff-comment.yml: the trusted job that posts the review diff (test/review-diff-workflows.test.ts).
    expect(writers).toEqual(["pull-request.yml:preview", "review-diff-comment.yml:comment"]);
    const commenting = FILES.flatMap((file) =>
      jobs(file).flatMap(([id, job]) => steps(job).filter((s) => s.with?.["comment-on-pr"] === true).map(() => `${file}:${id}`)),
    );
    expect(commenting).toEqual(["pull-request.yml:preview"]);
  });

  it("give no job any write permission beyond what it needs", () => {
    const allowed: Record<string, Record<string, string>> = {
      "pull-request.yml:preview": { contents: "read", "pull-requests": "write" },
      "drift.yml:report": { issues: "write" },
      "review-diff-comment.yml:comment": { contents: "read", actions: "read", checks: "write", "pull-requests": "write" },
    };
    for (const file of FILES) {
      for (const [id, job] of jobs(file)) {
        const writes = Object.entries((job.permissions ?? {}) as Record<string, string>).filter(([, v]) => v !== "read");
        const expected = Object.entries(allowed[`${file}:${id}`] ?? {}).filter(([, v]) => v !== "read");
        expect(writes, `${file}:${id}`).toEqual(expected);
      }
    }
  });

  it("install with no lifecycle scripts: setup-node provides Node 22, so no install script runs a dependency's code", () => {
    const installs = FILES.flatMap((file) =>
      jobs(file).flatMap(([, job]) => steps(job).map((s) => String(s.run ?? "")).filter((r) => /\bnpm (ci|install|i)\b/.test(r))),
    );
    expect(installs.length).toBeGreaterThan(0);
    for (const install of installs) expect(install).toBe("npm ci --ignore-scripts");
    for (const file of FILES) {
      for (const [id, job] of jobs(file)) {
        if (steps(job).some((s) => String(s.run ?? "").startsWith("npm "))) {
          expect(steps(job).some((s) => String(s.uses).startsWith("actions/setup-node@")), `${file}:${id}`).toBe(true);
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
    // The gate is posted by review-diff-comment.yml, not by a job of this workflow.
    expect(reported.sort()).toEqual(IAC_REQUIRED_CHECKS.filter((c) => c !== REVIEW_DIFF_GATE_CHECK).sort());
  });

  it("install, typecheck, test and synth every stack", () => {
    const runs = jobs("pull-request.yml").flatMap(([, job]) => steps(job).map((s) => String(s.run ?? "")));
    for (const command of ["npm ci --ignore-scripts", "npm run typecheck", "npm test", "scripts/actionlint.sh"]) {
      expect(runs, command).toContain(command);
    }
    const synth = runs.find((r) => r.includes("npm run synth"))!;
    for (const stack of ENVIRONMENTS) expect(synth).toContain(stack);
  });

  it("preview each stack through pulumi/actions with the policy pack, posting the result on the pull request", () => {
    const preview = pr.jobs.preview;
    expect(checkNames("preview", preview)).toEqual(ENVIRONMENTS.map(previewCheckName));
    const action = steps(preview).find((s) => PULUMI_ACTION.test(String(s.uses)))!;
    expect(action.with).toMatchObject({
      command: "preview",
      "stack-name": "${{ matrix.stack }}",
      "comment-on-pr": true,
      policyPacks: "policy",
      // pulumi/actions' refresh saves state; a pull request must not write it.
      refresh: false,
    });
  });

  it("preview each stack on that stack's own runners, and never a fork's pull request", () => {
    const preview = pr.jobs.preview;
    expect(preview["runs-on"]).toEqual(["self-hosted", "ske-deploy-${{ matrix.stack }}"]);
    expect(ENVIRONMENTS.map((e) => preview["runs-on"][1].replace("${{ matrix.stack }}", e))).toEqual(ENVIRONMENTS.map(deployRunnerLabel));
    expect(preview.if).toBe("github.event.pull_request.head.repo.full_name == github.repository");
  });

  it("give previews read-only credentials from the <stack>-preview environment, never the deploy environment", () => {
    const preview = pr.jobs.preview;
    expect(preview.environment).toBe("${{ matrix.stack }}-preview");
    expect(ENVIRONMENTS.map((e) => preview.environment.replace("${{ matrix.stack }}", e))).toEqual(
      ENVIRONMENTS.map(previewEnvironmentName),
    );
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
      next = Object.entries(deploy.jobs as Record<string, any>).find(([, j]) => [j.needs].flat().includes(current))?.[0];
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
    expect(stackJob["runs-on"]).toEqual(["self-hosted", "ske-deploy-${{ inputs.stack }}"]);
    expect(deployRunnerLabel("production")).toBe(stackJob["runs-on"][1].replace("${{ inputs.stack }}", "production"));
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

  it.each(credentialed)("%s: restores no npm cache, which an unapproved run of the same branch could have written", (_file, job) => {
    const setups = steps(job).filter((s) => String(s.uses).startsWith("actions/setup-node@"));
    expect(setups).toHaveLength(1);
    expect(setups[0]!.with).not.toHaveProperty("cache");
  });

  it.each(credentialed)("%s: uses OpenStack application credentials and the S3-compatible state from environment secrets, on the pulumi step only", (_file, job) => {
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
    for (const other of steps(job).filter((s) => s !== step)) expect(JSON.stringify(other), `${other.name ?? other.uses ?? other.run}`).not.toContain("secrets.");
  });
});

describe("drift detection", () => {
  const drift = workflow("drift.yml");

  it("runs on a schedule, previewing every stack against the real world with expect-no-changes, saving nothing", () => {
    expect(drift.on.schedule).toHaveLength(1);
    const detect = drift.jobs.detect;
    expect(detect.strategy.matrix.stack).toEqual([...ENVIRONMENTS]);
    expect(detect.environment).toBe("${{ matrix.stack }}-drift");
    expect(ENVIRONMENTS.map((e) => detect.environment.replace("${{ matrix.stack }}", e))).toEqual(ENVIRONMENTS.map(driftEnvironmentName));
    expect(detect["runs-on"]).toEqual(["self-hosted", "ske-deploy-${{ matrix.stack }}"]);
    const scripts = steps(detect).map((s) => String(s.run ?? "")).join("\n");
    expect(scripts).toMatch(/pulumi preview --stack "\$\{STACK\}" --refresh --expect-no-changes/);
    // `pulumi refresh` and pulumi/actions' refresh save the refreshed state; `preview --refresh` does not.
    expect(scripts).not.toMatch(/pulumi refresh|pulumi up/);
    expect(steps(detect).some((s) => PULUMI_ACTION.test(String(s.uses)))).toBe(false);
  });

  it("fails loudly: a failed detection opens or updates an issue and fails the run", () => {
    const report = drift.jobs.report;
    expect(report.needs).toBe("detect");
    expect(report.if).toBe("failure()");
    const script = steps(report).map((s) => String(s.run ?? "")).join("\n");
    expect(script).toContain("gh issue create");
    expect(script).toMatch(/exit 1\s*$/);
  });
});
