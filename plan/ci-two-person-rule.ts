/**
 * The two-person rule, checked over GitHub Actions workflow files.
 *
 * A pure function over parsed workflow YAML and the deployment environments
 * the program declares (plan/change-management.ts). It answers: can any job,
 * started by one person, reach a staging or production credential (or a
 * staging or production runner), or change staging or production, before a
 * second team member approves? Every path it finds is a finding; an empty
 * list means the workflows agree with the declared environments.
 *
 * What it cannot see, and why that is still enough: in a `pull_request` run
 * GitHub takes the workflow files from the pull request itself, so its author
 * can rewrite them. The guarantee against a malicious author is the
 * environments' server-side protection (required reviewers, self-review
 * prevented, branch policy), which this program declares and the author
 * cannot change. This checker keeps the reviewed workflows (those on `main`,
 * which deploys, drift checks and every approved run use) from opening a path
 * by mistake, and names every secret a job may touch so a reviewer of a
 * workflow change sees what it reaches.
 */
import { ENVIRONMENTS, type EnvironmentName } from "./address-plan";
import { displayText } from "./display-text";
import { PROTECTED_BRANCH, deployRunnerLabel, type EnvironmentPlan } from "./change-management";
import { checkJob, runnerStacksOf, type JobInstance } from "./ci-job-check";
import {
  MAIN_REF_GUARD,
  PULL_REQUEST_REF_EVENTS,
  fieldsOf,
  isObj,
  matrixInstances,
  runnerLabels,
  secretsReferenced,
  substitute,
  triggers,
  type Finding,
  type Obj,
} from "./ci-workflow-facts";

// Split by what each part knows: plan/ci-workflow-facts.ts (reading a
// workflow), plan/ci-job-check.ts (one job against the gates).
export { approvalGateProblem, gateProblem } from "./ci-job-check";
export {
  changeReason,
  matrixInstances,
  secretsReferenced,
  triggers,
  type Finding,
  type FindingRule,
} from "./ci-workflow-facts";

export interface TwoPersonCheckInput {
  /** Parsed workflow files by base name (`pull-request.yml`). */
  workflows: Record<string, unknown>;
  /** Every deployment environment the program declares in this repository, all stacks. */
  environments: readonly EnvironmentPlan[];
  /** Stacks whose credentials need a second person's approval. */
  gatedStacks: readonly EnvironmentName[];
  /**
   * Per stack, the workflow files its org runner group admits (each at
   * `refs/heads/main`), or "any" for a group with no workflow restriction.
   * Omitted: the groups are not checked.
   */
  runnerGroups?: Partial<Record<EnvironmentName, readonly string[] | "any">>;
}

function instanceLabel(values: Record<string, unknown>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : displayText(v)}`)
    .join(",");
}

export function checkTwoPersonRule(input: TwoPersonCheckInput): Finding[] {
  const findings: Finding[] = [];
  const byName = new Map(input.environments.map((e) => [e.name, e]));
  const gated = new Set<string>(input.gatedStacks);
  // Every stack's runner label, declared environments or not: a runner is inside its network either way.
  const runnerStack = new Map<string, EnvironmentName>(ENVIRONMENTS.map((stack) => [deployRunnerLabel(stack), stack]));

  const instances: JobInstance[] = [];
  for (const [file, workflow] of Object.entries(input.workflows)) {
    if (!isObj(workflow)) continue;
    const events = triggers(workflow);
    // A workflow that only other workflows call is checked through its callers.
    if (events.length === 0 || events.every((e) => e === "workflow_call")) continue;

    const workflowWide = secretsReferenced(workflow.env ?? {});
    if (workflowWide.length > 0) {
      findings.push({
        file,
        job: "(workflow)",
        instance: "",
        rule: "job-wide-secret",
        message: `workflow-level env exposes ${workflowWide.join(", ")} to every step of every job`,
      });
    }
    for (const [jobId, rawJob] of Object.entries((workflow.jobs ?? {}) as Obj)) {
      if (!isObj(rawJob)) continue;
      for (const values of matrixInstances(rawJob)) {
        // `inputs.*` of a top-level run stay expressions: whoever dispatches the run chooses them.
        const job = substitute(rawJob, "matrix", values) as Obj;
        const instance = instanceLabel(values);
        if (typeof job.uses !== "string") {
          instances.push({ file, job: jobId, instance, body: job, events, passedSecrets: [], definedIn: file });
          continue;
        }
        expandReusableCall(
          { file, jobId, instance, job, uses: job.uses, events },
          input.workflows,
          findings,
          instances,
        );
      }
    }
  }

  for (const inst of instances) findings.push(...checkJob(inst, byName, gated, runnerStack));
  if (input.runnerGroups)
    findings.push(...checkRunnerGroups(input.workflows, instances, input.runnerGroups, gated, runnerStack));
  return findings;
}

interface ReusableCall {
  file: string;
  jobId: string;
  instance: string;
  job: Obj;
  uses: string;
  events: string[];
}

/**
 * A reusable workflow: its jobs run with the caller's event and the inputs
 * given here. Adds the call's own findings to `findings` and each called job
 * instance to `instances`.
 */
function expandReusableCall(
  call: ReusableCall,
  workflows: Record<string, unknown>,
  findings: Finding[],
  instances: JobInstance[],
): void {
  const { file, jobId, instance, job, uses, events } = call;
  if (job.secrets === "inherit") {
    findings.push({
      file,
      job: jobId,
      instance,
      rule: "secrets-inherit",
      message: "`secrets: inherit` hands every repository and organisation secret to the called workflow",
    });
  }
  const passed = secretsReferenced(job.secrets ?? {});
  for (const name of passed) {
    findings.push({
      file,
      job: jobId,
      instance,
      rule: "repository-secret",
      message: `passes secret ${name} to a reusable workflow: a calling job has no environment, so this is a repository or organisation secret`,
    });
  }
  const local = /^\.\/\.github\/workflows\/([^/@]+)$/.exec(uses);
  const called = local ? workflows[local[1]!] : undefined;
  if (!local || !isObj(called)) {
    findings.push({
      file,
      job: jobId,
      instance,
      rule: "opaque-reusable-workflow",
      message: `calls ${uses}, which this check cannot read; call only workflows of this repository`,
    });
    return;
  }
  const declared = (fieldsOf(fieldsOf(called.on).workflow_call).inputs ?? {}) as Obj;
  const given = {
    ...Object.fromEntries(Object.entries(declared).map(([k, v]) => [k, isObj(v) ? v.default : undefined])),
    ...((job.with ?? {}) as Obj),
  };
  for (const [calledId, calledJob] of Object.entries((called.jobs ?? {}) as Obj)) {
    if (!isObj(calledJob)) continue;
    for (const innerValues of matrixInstances(calledJob)) {
      const body = substitute(substitute(calledJob, "inputs", given), "matrix", innerValues) as Obj;
      const inner = instanceLabel(innerValues);
      instances.push({
        file,
        job: `${jobId}>${local[1]}:${calledId}`,
        instance: [instance, inner].filter(Boolean).join(","),
        body,
        events,
        passedSecrets: passed,
        definedIn: local[1]!,
      });
    }
  }
  const calledWide = secretsReferenced(called.env ?? {});
  if (calledWide.length > 0) {
    findings.push({
      file,
      job: `${jobId}>${local[1]}`,
      instance,
      rule: "job-wide-secret",
      message: `workflow-level env of ${local[1]} exposes ${calledWide.join(", ")} to every job`,
    });
  }
}

/**
 * The org runner groups against the workflows. A group restricted to
 * workflows admits only jobs defined in a listed file, at `refs/heads/main`:
 * any other job on its runners would wait in the queue for ever. A listed
 * file that other workflows may call runs at its caller's ref when called as
 * `./…`, but at `refs/heads/main` when a branch calls it as
 * `owner/repo/.github/workflows/<file>@main`, with the branch's inputs and
 * commit; so its runner jobs must themselves refuse any run whose ref is not main.
 */
function checkRunnerGroups(
  workflows: Record<string, unknown>,
  instances: readonly JobInstance[],
  groups: Partial<Record<EnvironmentName, readonly string[] | "any">>,
  gated: Set<string>,
  runnerStack: Map<string, EnvironmentName>,
): Finding[] {
  const out: Finding[] = [];
  for (const stack of ENVIRONMENTS) {
    if (gated.has(stack) && groups[stack] === "any") {
      out.push({
        file: "(runner groups)",
        job: deployRunnerLabel(stack),
        instance: "",
        stack,
        rule: "unrestricted-runner-group",
        message: `${deployRunnerLabel(stack)} admits every workflow of the repository, so a job added on any branch runs inside ${stack}'s network with no approval; list the workflows on main it serves`,
      });
    }
  }
  for (const inst of instances) {
    const stacks = runnerStacksOf(inst.body, runnerStack);
    for (const stack of stacks) {
      const allowed = groups[stack];
      if (allowed === undefined || allowed === "any") continue;
      const base = { file: inst.file, job: inst.job, instance: inst.instance, stack };
      if (!allowed.includes(inst.definedIn)) {
        out.push({
          ...base,
          rule: "runner-group-refuses-workflow",
          message: `runs on ${deployRunnerLabel(stack)}, whose group admits only ${allowed.join(", ")} at refs/heads/${PROTECTED_BRANCH}: ${inst.definedIn} would wait for a runner for ever`,
        });
      } else if (inst.events.every((e) => PULL_REQUEST_REF_EVENTS.includes(e))) {
        out.push({
          ...base,
          rule: "runner-group-refuses-workflow",
          message: `runs on ${deployRunnerLabel(stack)} from a ${inst.events.join("/")} run, at refs/pull/<n>/merge, which the group (pinned to refs/heads/${PROTECTED_BRANCH}) refuses: it would wait for a runner for ever`,
        });
      }
    }
  }
  for (const [file, workflow] of Object.entries(workflows)) {
    if (!isObj(workflow) || !triggers(workflow).includes("workflow_call")) continue;
    const listedBy = ENVIRONMENTS.filter((stack) => {
      const g = groups[stack];
      return g !== undefined && g !== "any" && g.includes(file);
    });
    if (listedBy.length === 0) continue;
    for (const [jobId, job] of Object.entries((workflow.jobs ?? {}) as Obj)) {
      if (!isObj(job) || !runnerLabels(job).some((l) => l === "self-hosted" || l.includes("ske-deploy-"))) continue;
      // The guard must bind the whole condition: an `||` could let any other run past it.
      const condition = displayText(job.if ?? "");
      if (!MAIN_REF_GUARD.test(condition) || condition.includes("||")) {
        out.push({
          file,
          job: jobId,
          instance: "",
          rule: "unguarded-reusable-on-runners",
          message: `${file} is admitted by the runner groups of ${listedBy.join(", ")} and can be called from any branch as <owner>/<repo>/.github/workflows/${file}@${PROTECTED_BRANCH}, which runs at refs/heads/${PROTECTED_BRANCH} with the branch's inputs and code; the job needs \`if: github.ref == 'refs/heads/${PROTECTED_BRANCH}'\``,
        });
      }
    }
  }
  return out;
}

/** One line per finding, for test messages and the command-line check. */
export function formatFinding(f: Finding): string {
  return `${f.file}: ${f.job}${f.instance ? `[${f.instance}]` : ""}: ${f.rule}: ${f.message}`;
}
