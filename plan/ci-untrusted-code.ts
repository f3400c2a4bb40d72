/**
 * The checks of one job instance that concern code the run did not take from
 * `main`: checkouts of pull-request code in a privileged run, and untrusted
 * input expanded into a script. Pure; plan/ci-job-check.ts runs them.
 */
import { displayText } from "./display-text";
import { PROTECTED_BRANCH, type EnvironmentPlan } from "./change-management";
import {
  EXPRESSION,
  PINNED_HEAD,
  PR_HEAD_REF,
  UNTRUSTED_INPUT,
  fieldsOf,
  hasExpression,
  type Finding,
  type Obj,
} from "./ci-workflow-facts";

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

export type FindingBase = Pick<Finding, "file" | "job" | "instance">;

/** Checkouts of pull-request code in a run started by a privileged event (pull_request_target, workflow_run). */
export function untrustedCheckoutFindings(
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
export function scriptInjectionFindings(base: FindingBase, steps: Obj[]): Finding[] {
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
