/**
 * The two-person check of one job instance (plan/ci-two-person-rule.ts runs
 * it over every job of every workflow): the gates its environment must have,
 * the runners it may use, what it may check out, and what it may expand into
 * a script. Pure.
 */
import type { EnvironmentName } from "./address-plan";
import { displayText } from "./display-text";
import { PROTECTED_BRANCH, deployRunnerLabel, type EnvironmentPlan } from "./change-management";
import {
  EXPRESSION,
  PINNED_HEAD,
  PRIVILEGED_EVENTS,
  PR_HEAD_REF,
  PULL_REQUEST_REF_EVENTS,
  SAME_REPOSITORY_GUARD,
  UNTRUSTED_INPUT,
  changeReason,
  environmentName,
  fieldsOf,
  hasExpression,
  runnerLabels,
  secretsReferenced,
  type Finding,
  type Obj,
} from "./ci-workflow-facts";

export function mainOnly(environment: EnvironmentPlan): boolean {
  return (
    environment.allowedBranches !== "all" &&
    environment.allowedBranches.length === 1 &&
    environment.allowedBranches[0] === PROTECTED_BRANCH
  );
}

/**
 * Why an environment does not gate a job of `stack`, or undefined if it does.
 * Reading (a preview) needs a second team member's approval with self-review
 * prevented, or `main` only (every commit there was approved by a second
 * person). Changing needs both: `main` only and the team's approval.
 */
export function gateProblem(environment: EnvironmentPlan, changing: boolean): string | undefined {
  if (environment.canAdminsBypass !== false) return `admins can bypass the protection of ${environment.name}`;
  const reviewed = environment.teamReview && environment.preventSelfReview;
  if (changing) {
    if (!reviewed)
      return `${environment.name} can change ${environment.stack} with no second team member's approval (required reviewers and prevent self-review)`;
    if (!mainOnly(environment))
      return `${environment.name} can change ${environment.stack} from branches other than ${PROTECTED_BRANCH}`;
    return undefined;
  }
  if (reviewed || mainOnly(environment)) return undefined;
  return `${environment.name} serves any branch with no required reviewers and self-review allowed`;
}

/**
 * Why an environment is no approval gate for running unmerged code, or
 * undefined. Only required reviewers with self-review prevented count: a
 * `main`-only branch policy proves nothing here, because pull_request_target
 * and workflow_run runs are at `refs/heads/main` whatever code they check out.
 */
export function approvalGateProblem(environment: EnvironmentPlan): string | undefined {
  if (environment.canAdminsBypass !== false) return `admins can bypass the protection of ${environment.name}`;
  if (!environment.teamReview || !environment.preventSelfReview)
    return `${environment.name} needs no approval by a second team member (required reviewers and prevent self-review)`;
  return undefined;
}

export interface JobInstance {
  file: string;
  job: string;
  instance: string;
  body: Obj;
  /** Events of the workflow that started the run (the caller's, for a reusable workflow). */
  events: string[];
  /** Secret names the caller passes (`secrets:` map) to a reusable workflow. */
  passedSecrets: string[];
  /** The workflow file that defines the job: the called file for a reusable workflow's job. */
  definedIn: string;
}

/** The stacks whose deploy runners a job asks for, by label or by runner group. */
export function runnerStacksOf(job: Obj, runnerStack: Map<string, EnvironmentName>): EnvironmentName[] {
  const labels = runnerLabels(job);
  const group = labels.find((l) => l.startsWith("group:"))?.slice("group:".length);
  const named = [...labels.filter((l) => !l.startsWith("group:")), ...(group ? [group] : [])];
  return [...new Set(named.flatMap((l) => (runnerStack.has(l) ? [runnerStack.get(l)!] : [])))];
}

export function checkJob(
  inst: JobInstance,
  byName: Map<string, EnvironmentPlan>,
  gated: Set<string>,
  runnerStack: Map<string, EnvironmentName>,
): Finding[] {
  const out: Finding[] = [];
  const base = { file: inst.file, job: inst.job, instance: inst.instance };
  const job = inst.body;
  const steps = Array.isArray(job.steps) ? (job.steps as Obj[]) : [];

  // Job-wide secrets: every step (checkout, npm ci, the program) would see them.
  const jobWide = secretsReferenced({
    env: job.env ?? {},
    defaults: job.defaults ?? {},
    container: job.container ?? {},
    services: job.services ?? {},
  });
  if (jobWide.length > 0) {
    out.push({
      ...base,
      rule: "job-wide-secret",
      message: `job-level env, container or services expose ${jobWide.join(", ")} to every step (checkout, install, the program); set them on the one step that needs them`,
    });
  }

  const used = secretsReferenced(job);
  if (used.includes("*"))
    out.push({ ...base, rule: "all-secrets", message: "reads the whole secrets context (e.g. toJSON(secrets))" });
  const envName = environmentName(job);
  const environment = envName && !hasExpression(envName) ? byName.get(envName) : undefined;
  const labels = runnerLabels(job);
  const runnerStacks = runnerStacksOf(job, runnerStack);
  out.push(...runnerGroupFindings(base, labels, runnerStack));
  const change = changeReason(job);
  const isChanging = change !== undefined;

  if (envName === undefined) {
    for (const name of used.filter((n) => n !== "*")) {
      if (inst.passedSecrets.includes(name)) continue; // reported at the caller
      out.push({
        ...base,
        rule: "repository-secret",
        message: `reads secret ${name} with no deployment environment: a repository or organisation secret, behind no approval`,
      });
    }
  } else if (hasExpression(envName)) {
    out.push({
      ...base,
      rule: "unresolved-environment",
      message: `environment \`${envName}\` cannot be resolved from the workflow files; name it from a fixed list (matrix or input values)`,
    });
  } else if (!environment) {
    out.push({
      ...base,
      rule: "undeclared-environment",
      message: `environment ${envName} is not declared by the program; GitHub would create it on first use with no protection`,
    });
  } else {
    // Since December 2025 GitHub matches branch policies against the run's
    // ref, which for pull_request runs is refs/pull/<n>/merge: such a job is
    // refused by a main-only environment and never starts.
    if (mainOnly(environment) && inst.events.every((e) => PULL_REQUEST_REF_EVENTS.includes(e))) {
      out.push({
        ...base,
        stack: environment.stack,
        rule: "environment-refuses-ref",
        message: `uses ${environment.name}, which serves ${PROTECTED_BRANCH} only, from a ${inst.events.join("/")} run at refs/pull/<n>/merge: GitHub refuses the job`,
      });
    }
    for (const name of used.filter((n) => n !== "*" && !environment.secrets.includes(n))) {
      out.push({
        ...base,
        stack: environment.stack,
        rule: "undeclared-secret",
        message: `reads secret ${name}, which ${environment.name} does not declare; GitHub would fall back to a repository or organisation secret`,
      });
    }
    if (gated.has(environment.stack)) {
      const problem = gateProblem(environment, isChanging);
      if (problem && used.length > 0) {
        const what = isChanging
          ? `changes ${environment.stack} (${change}) with its secrets (${used.join(", ")})`
          : `reaches ${environment.stack} secrets (${used.join(", ")})`;
        out.push({
          ...base,
          stack: environment.stack,
          rule: isChanging ? "ungated-change" : "ungated-environment",
          message: `${what} without a second person's approval: ${problem}`,
        });
      }
    }
  }

  // Runners inside a gated environment's network are themselves a credential.
  for (const stack of runnerStacks) {
    if (environment && environment.stack !== stack) {
      out.push({
        ...base,
        stack,
        rule: "runner-environment-mismatch",
        message: `runs on ${deployRunnerLabel(stack)} with the credentials of ${environment.name} (${environment.stack})`,
      });
      continue;
    }
    if (!gated.has(stack)) continue;
    const problem = environment ? gateProblem(environment, isChanging) : "it has no deployment environment";
    if (problem)
      out.push({
        ...base,
        stack,
        rule: "runner-outside-gate",
        message: `runs on ${deployRunnerLabel(stack)}, inside ${stack}'s network, without a second person's approval: ${problem}`,
      });
  }
  if (labels.some((l) => hasExpression(l)) && (used.length > 0 || labels.includes("self-hosted"))) {
    out.push({
      ...base,
      rule: "unresolved-environment",
      message: `runs-on \`${labels.join(", ")}\` cannot be resolved from the workflow files`,
    });
  }

  const fromPullRequest = inst.events.some((e) => e === "pull_request" || e === "pull_request_target");
  if (fromPullRequest && labels.includes("self-hosted") && !SAME_REPOSITORY_GUARD.test(displayText(job.if ?? ""))) {
    out.push({
      ...base,
      rule: "fork-on-self-hosted",
      message:
        "runs pull-request code on a self-hosted runner without `if: github.event.pull_request.head.repo.full_name == github.repository`",
    });
  }

  if (inst.events.some((e) => PRIVILEGED_EVENTS.includes(e)))
    out.push(...untrustedCheckoutFindings(inst, environment, envName, change));
  out.push(...scriptInjectionFindings(base, steps));
  return out;
}

type FindingBase = Pick<Finding, "file" | "job" | "instance">;

/**
 * A label is only a string any runner may carry; the group is what GitHub
 * restricts. Naming both means a runner of another group never takes the job.
 */
function runnerGroupFindings(
  base: FindingBase,
  labels: string[],
  runnerStack: Map<string, EnvironmentName>,
): Finding[] {
  const out: Finding[] = [];
  const group = labels.find((l) => l.startsWith("group:"))?.slice("group:".length);
  const labelStacks = [...new Set(labels.flatMap((l) => (runnerStack.has(l) ? [runnerStack.get(l)!] : [])))];
  for (const stack of labelStacks) {
    if (group === undefined) {
      out.push({
        ...base,
        stack,
        rule: "runner-group-missing",
        message: `asks for ${deployRunnerLabel(stack)} by label only; name its runner group too: \`runs-on: { group: ${deployRunnerLabel(stack)}, labels: [self-hosted, ${deployRunnerLabel(stack)}] }\``,
      });
    } else if (group !== deployRunnerLabel(stack)) {
      out.push({
        ...base,
        stack,
        rule: "runner-group-mismatch",
        message: `asks for the label ${deployRunnerLabel(stack)} in runner group ${group}`,
      });
    }
  }
  if (group !== undefined && runnerStack.has(group) && labelStacks.length === 0) {
    out.push({
      ...base,
      stack: runnerStack.get(group)!,
      rule: "runner-group-mismatch",
      message: `asks for runner group ${group} without its label ${group}`,
    });
  }
  return out;
}

/** Checkouts of pull-request code in a run started by a privileged event (pull_request_target, workflow_run). */
function untrustedCheckoutFindings(
  inst: JobInstance,
  environment: EnvironmentPlan | undefined,
  envName: string | undefined,
  change: string | undefined,
): Finding[] {
  const out: Finding[] = [];
  const base = { file: inst.file, job: inst.job, instance: inst.instance };
  const steps = Array.isArray(inst.body.steps) ? (inst.body.steps as Obj[]) : [];
  const isChanging = change !== undefined;
  // The one accepted form: the environment's required reviewers (never the
  // run's starter) approve before the job starts, so no step, and no step
  // of an ungated job, touches the pull request's code before a second
  // person has read it; the job only previews; and it checks out the exact
  // commit the run was started for, which a later push cannot move.
  const gate = environment
    ? approvalGateProblem(environment)
    : `it has no deployment environment${envName && hasExpression(envName) ? " that the check can resolve" : ""}`;
  for (const step of steps) {
    const checkout = typeof step.uses === "string" && /^actions\/checkout@/.test(step.uses);
    const ref = displayText(fieldsOf(step.with).ref ?? "").trim();
    const refs = JSON.stringify([fieldsOf(step.with).ref ?? "", fieldsOf(step.with).repository ?? ""]);
    const fetches =
      typeof step.run === "string" &&
      (/\bgh\s+pr\s+checkout\b/.test(step.run) ||
        (/\bgit\s+(fetch|checkout)\b/.test(step.run) && PR_HEAD_REF.test(step.run)));
    if (!(checkout && PR_HEAD_REF.test(refs)) && !fetches) continue;
    const why =
      gate ??
      (isChanging
        ? `it changes ${environment!.stack} (${change}) from code that is not on ${PROTECTED_BRANCH}`
        : undefined) ??
      (fetches || !PINNED_HEAD.test(ref) || fieldsOf(step.with).repository
        ? "it fetches a moving ref; check out `github.event.pull_request.head.sha` (or `workflow_run.head_sha`) of this repository, the commit the approval was for"
        : undefined);
    if (why) {
      out.push({
        ...base,
        rule: "untrusted-checkout",
        message: `checks out pull-request code in a ${inst.events.join("/")} run, which has the base repository's secrets and write token: ${why}`,
      });
    }
  }
  return out;
}

/** Expressions from untrusted input expanded into a step's script. */
function scriptInjectionFindings(base: FindingBase, steps: Obj[]): Finding[] {
  const out: Finding[] = [];
  for (const [index, step] of steps.entries()) {
    if (typeof step.run !== "string") continue;
    for (const expression of step.run.matchAll(EXPRESSION)) {
      if (UNTRUSTED_INPUT.test(expression[1]!)) {
        out.push({
          ...base,
          rule: "script-injection",
          message: `step ${displayText(step.name ?? index + 1)} expands \`${expression[0].trim()}\` into its script; pass it through env instead`,
        });
      }
    }
  }
  return out;
}
