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
  PRIVILEGED_EVENTS,
  PULL_REQUEST_REF_EVENTS,
  SAME_REPOSITORY_GUARD,
  changeReason,
  environmentName,
  hasExpression,
  runnerLabels,
  secretsReferenced,
  type Finding,
  type Obj,
} from "./ci-workflow-facts";
import {
  scriptInjectionFindings,
  untrustedCheckoutFindings,
  type FindingBase,
  type JobInstance,
} from "./ci-untrusted-code";

// The checks of code not taken from main live in plan/ci-untrusted-code.ts.
export { approvalGateProblem, type JobInstance } from "./ci-untrusted-code";

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

  out.push(...jobWideSecretFindings(base, job));

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

  out.push(...environmentFindings(base, inst, envName, environment, used, gated, change));
  out.push(...deployRunnerFindings(base, environment, runnerStacks, gated, isChanging));
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

/** Job-wide secrets: every step (checkout, npm ci, the program) would see them. */
function jobWideSecretFindings(base: FindingBase, job: Obj): Finding[] {
  const out: Finding[] = [];
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
  return out;
}

/** The job's deployment environment: declared, resolvable, serving this ref, and gating the secrets it reads. */
function environmentFindings(
  base: FindingBase,
  inst: JobInstance,
  envName: string | undefined,
  environment: EnvironmentPlan | undefined,
  used: string[],
  gated: Set<string>,
  change: string | undefined,
): Finding[] {
  const out: Finding[] = [];
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
  return out;
}

/** Runners inside a gated environment's network are themselves a credential. */
function deployRunnerFindings(
  base: FindingBase,
  environment: EnvironmentPlan | undefined,
  runnerStacks: EnvironmentName[],
  gated: Set<string>,
  isChanging: boolean,
): Finding[] {
  const out: Finding[] = [];
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
  return out;
}

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
