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
import { PROTECTED_BRANCH, deployRunnerLabel, type EnvironmentPlan } from "./change-management";
import { displayText } from "./display-text";

export type FindingRule =
  | "job-wide-secret"
  | "repository-secret"
  | "secrets-inherit"
  | "all-secrets"
  | "undeclared-secret"
  | "undeclared-environment"
  | "unresolved-environment"
  | "ungated-environment"
  | "ungated-change"
  | "runner-outside-gate"
  | "runner-environment-mismatch"
  | "runner-group-missing"
  | "runner-group-mismatch"
  | "runner-group-refuses-workflow"
  | "unrestricted-runner-group"
  | "unguarded-reusable-on-runners"
  | "environment-refuses-ref"
  | "fork-on-self-hosted"
  | "untrusted-checkout"
  | "script-injection"
  | "opaque-reusable-workflow";

export interface Finding {
  /** Workflow file (base name) that holds the job. */
  file: string;
  /** `job` or, through a reusable workflow, `caller-job>called-job`. */
  job: string;
  /** Matrix values of this instance, e.g. `stack=production`, or "". */
  instance: string;
  /** The stack whose credentials or runners are at stake, when known. */
  stack?: EnvironmentName;
  rule: FindingRule;
  message: string;
}

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

type Obj = Record<string, unknown>;

const GITHUB_TOKEN = "GITHUB_TOKEN";
const SECRET_REF = /\bsecrets\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*['"]([^'"]+)['"]\s*\])/g;
/** `toJSON(secrets)` or a bare `secrets` object: every secret of the context at once. */
const ALL_SECRETS = /\bsecrets\b(?!\s*[.[])/;
const EXPRESSION = /\$\{\{([\s\S]*?)\}\}/g;
/**
 * Context fields an outsider writes (titles, bodies, branch names, commit
 * messages, author names): expanded into a shell script, they are code.
 */
const UNTRUSTED_INPUT =
  /\bgithub\.head_ref\b|\bgithub\.event\.(?:pull_request|issue|comment|review|review_comment|discussion|head_commit|commits|workflow_run|pages|release)\b[\w.[\]*'"-]*\.(?:title|body|message|ref|label|name|email|default_branch|head_branch|page_name)\b/;
/** A checkout of code the base repository's reviewers have not approved. */
const PR_HEAD_REF = /github\.event\.(?:pull_request\.head|workflow_run\.head)|github\.head_ref|refs\/pull\//;
/** Pulumi commands that write state or infrastructure. */
const PULUMI_WRITE = /\bpulumi\s+(?:[^\n;&|]*\s)?(?:up|update|destroy|refresh|import|cancel|state|stack\s+(?:rm|import|change-secrets-provider))\b/;
/** A checkout pinned to the commit the run was started for, which a later push cannot move. */
const PINNED_HEAD = /^\$\{\{\s*github\.event\.(?:pull_request\.head\.sha|workflow_run\.head_sha)\s*\}\}$/;
/** The guard that keeps a reusable workflow's runner job to runs of main's reviewed workflow files. */
const MAIN_REF_GUARD = /github\.ref\s*==\s*'refs\/heads\/main'/;
/** Events whose runs take the workflow files of the default branch and run with the base repository's secrets. */
const PRIVILEGED_EVENTS = ["pull_request_target", "workflow_run"];
/** Events whose runs are at a ref no runner-group entry can name (`refs/pull/<n>/merge`). */
const PULL_REQUEST_REF_EVENTS = ["pull_request", "pull_request_review", "pull_request_review_comment"];
/** Fork pull requests must never reach a self-hosted runner; the job must say so itself. */
const SAME_REPOSITORY_GUARD = /github\.event\.pull_request\.head\.repo\.full_name\s*==\s*github\.repository/;

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A map's fields, or none when the value is not a map (as `value?.field` would find none). */
function fieldsOf(value: unknown): Obj {
  return isObj(value) ? value : {};
}

/** Event names of a workflow's `on:` (string, list or map form). */
export function triggers(workflow: unknown): string[] {
  const on = isObj(workflow) ? (workflow.on ?? workflow.true) : undefined; // YAML 1.1 reads a bare `on` as true
  if (typeof on === "string") return [on];
  if (Array.isArray(on)) return on.map(String);
  if (isObj(on)) return Object.keys(on);
  return [];
}

/** Every string inside a value, with its path, for scanning expressions. */
function strings(value: unknown, path = ""): { path: string; text: string }[] {
  if (typeof value === "string") return [{ path, text: value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (isObj(value)) return Object.entries(value).flatMap(([k, v]) => strings(v, path ? `${path}.${k}` : k));
  return [];
}

/** Secret names referenced inside `${{ }}` expressions of a value; "*" for the whole context. */
export function secretsReferenced(value: unknown): string[] {
  const found = new Set<string>();
  for (const { path, text } of strings(value)) {
    // An `if:` is an expression even without `${{ }}`.
    const bodies = /(^|\.)if$/.test(path) && !text.includes("${{") ? [text] : [...text.matchAll(EXPRESSION)].map((e) => e[1]!);
    for (const body of bodies) {
      for (const ref of body.matchAll(SECRET_REF)) found.add(ref[1] ?? ref[2]!);
      if (ALL_SECRETS.test(body)) found.add("*");
    }
  }
  return [...found].filter((name) => name !== GITHUB_TOKEN).sort();
}

/** Replaces `${{ <context>.<key> }}` with known values; anything else stays an expression. */
function substitute(value: unknown, context: string, values: Record<string, unknown>): unknown {
  if (typeof value === "string") {
    return value.replace(new RegExp(`\\$\\{\\{\\s*${context}\\.([A-Za-z0-9_-]+)\\s*\\}\\}`, "g"), (whole, key: string) =>
      key in values && ["string", "number", "boolean"].includes(typeof values[key]) ? String(values[key]) : whole,
    );
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, context, values));
  if (isObj(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, context, values)]));
  return value;
}

/** The matrix combinations of a job (include/exclude honoured); one empty combination without a matrix. */
export function matrixInstances(job: Obj): Record<string, unknown>[] {
  const matrix = fieldsOf(job.strategy).matrix;
  if (!isObj(matrix)) return [{}];
  let combos: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(matrix)) {
    if (key === "include" || key === "exclude") continue;
    const list: unknown[] = Array.isArray(values) ? values : [values];
    combos = combos.flatMap((c) => list.map((v) => ({ ...c, [key]: v })));
  }
  const matches = (combo: Record<string, unknown>, pattern: Obj) =>
    Object.entries(pattern).every(([k, v]) => !(k in combo) || JSON.stringify(combo[k]) === JSON.stringify(v));
  for (const pattern of Array.isArray(matrix.exclude) ? matrix.exclude : []) {
    combos = combos.filter((c) => !(isObj(pattern) && Object.entries(pattern).every(([k, v]) => JSON.stringify(c[k]) === JSON.stringify(v))));
  }
  const baseKeys = Object.keys(matrix).filter((k) => k !== "include" && k !== "exclude");
  for (const extra of Array.isArray(matrix.include) ? matrix.include : []) {
    if (!isObj(extra)) continue;
    const base = Object.fromEntries(Object.entries(extra).filter(([k]) => baseKeys.includes(k)));
    const targets = baseKeys.length > 0 && Object.keys(base).length > 0 ? combos.filter((c) => matches(c, base)) : [];
    if (targets.length > 0) targets.forEach((t) => Object.assign(t, extra));
    else if (baseKeys.length === 0 && combos.length === 1 && Object.keys(combos[0]!).length === 0) combos = [{ ...extra }];
    else combos.push({ ...extra });
  }
  return combos;
}

function runnerLabels(job: Obj): string[] {
  const runsOn = job["runs-on"];
  if (typeof runsOn === "string") return [runsOn];
  if (Array.isArray(runsOn)) return runsOn.map(String);
  if (isObj(runsOn)) return [...[runsOn.labels ?? []].flat().map(String), ...(runsOn.group ? [`group:${displayText(runsOn.group)}`] : [])];
  return [];
}

function environmentName(job: Obj): string | undefined {
  const env = job.environment;
  if (typeof env === "string") return env;
  if (isObj(env) && typeof env.name === "string") return env.name;
  return undefined;
}

function hasExpression(text: string): boolean {
  return text.includes("${{");
}

/** Why the job can write state or infrastructure (unreadable commands count as writing), or undefined. */
export function changeReason(job: Obj): string | undefined {
  for (const step of Array.isArray(job.steps) ? (job.steps as Obj[]) : []) {
    if (typeof step.uses === "string" && /^pulumi\/actions@/.test(step.uses)) {
      const command = displayText(fieldsOf(step.with).command ?? "");
      if (command !== "preview") return `pulumi/actions runs \`${command}\``;
      const refresh = fieldsOf(step.with).refresh;
      if (refresh !== undefined && refresh !== false && refresh !== "false") return `pulumi/actions' \`refresh: ${displayText(refresh)}\` saves the refreshed state`;
    }
    if (typeof step.run === "string") {
      const match = PULUMI_WRITE.exec(step.run);
      if (match) return `a step runs \`${match[0]}\``;
    }
  }
  return undefined;
}

function mainOnly(environment: EnvironmentPlan): boolean {
  return environment.allowedBranches !== "all" && environment.allowedBranches.length === 1 && environment.allowedBranches[0] === PROTECTED_BRANCH;
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
    if (!reviewed) return `${environment.name} can change ${environment.stack} with no second team member's approval (required reviewers and prevent self-review)`;
    if (!mainOnly(environment)) return `${environment.name} can change ${environment.stack} from branches other than ${PROTECTED_BRANCH}`;
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
  if (!environment.teamReview || !environment.preventSelfReview) return `${environment.name} needs no approval by a second team member (required reviewers and prevent self-review)`;
  return undefined;
}

interface JobInstance {
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
      findings.push({ file, job: "(workflow)", instance: "", rule: "job-wide-secret", message: `workflow-level env exposes ${workflowWide.join(", ")} to every step of every job` });
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
        // A reusable workflow: its jobs run with the caller's event and the inputs given here.
        if (job.secrets === "inherit") {
          findings.push({ file, job: jobId, instance, rule: "secrets-inherit", message: "`secrets: inherit` hands every repository and organisation secret to the called workflow" });
        }
        const passed = secretsReferenced(job.secrets ?? {});
        for (const name of passed) {
          findings.push({ file, job: jobId, instance, rule: "repository-secret", message: `passes secret ${name} to a reusable workflow: a calling job has no environment, so this is a repository or organisation secret` });
        }
        const local = /^\.\/\.github\/workflows\/([^/@]+)$/.exec(job.uses);
        const called = local ? input.workflows[local[1]!] : undefined;
        if (!local || !isObj(called)) {
          findings.push({ file, job: jobId, instance, rule: "opaque-reusable-workflow", message: `calls ${job.uses}, which this check cannot read; call only workflows of this repository` });
          continue;
        }
        const declared = (fieldsOf(fieldsOf(called.on).workflow_call).inputs ?? {}) as Obj;
        const given = { ...Object.fromEntries(Object.entries(declared).map(([k, v]) => [k, isObj(v) ? v.default : undefined])), ...((job.with ?? {}) as Obj) };
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
          findings.push({ file, job: `${jobId}>${local[1]}`, instance, rule: "job-wide-secret", message: `workflow-level env of ${local[1]} exposes ${calledWide.join(", ")} to every job` });
        }
      }
    }
  }

  for (const inst of instances) findings.push(...checkJob(inst, byName, gated, runnerStack));
  if (input.runnerGroups) findings.push(...checkRunnerGroups(input.workflows, instances, input.runnerGroups, gated, runnerStack));
  return findings;
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
      out.push({ file: "(runner groups)", job: deployRunnerLabel(stack), instance: "", stack, rule: "unrestricted-runner-group", message: `${deployRunnerLabel(stack)} admits every workflow of the repository, so a job added on any branch runs inside ${stack}'s network with no approval; list the workflows on main it serves` });
    }
  }
  for (const inst of instances) {
    const stacks = runnerStacksOf(inst.body, runnerStack);
    for (const stack of stacks) {
      const allowed = groups[stack];
      if (allowed === undefined || allowed === "any") continue;
      const base = { file: inst.file, job: inst.job, instance: inst.instance, stack };
      if (!allowed.includes(inst.definedIn)) {
        out.push({ ...base, rule: "runner-group-refuses-workflow", message: `runs on ${deployRunnerLabel(stack)}, whose group admits only ${allowed.join(", ")} at refs/heads/${PROTECTED_BRANCH}: ${inst.definedIn} would wait for a runner for ever` });
      } else if (inst.events.every((e) => PULL_REQUEST_REF_EVENTS.includes(e))) {
        out.push({ ...base, rule: "runner-group-refuses-workflow", message: `runs on ${deployRunnerLabel(stack)} from a ${inst.events.join("/")} run, at refs/pull/<n>/merge, which the group (pinned to refs/heads/${PROTECTED_BRANCH}) refuses: it would wait for a runner for ever` });
      }
    }
  }
  for (const [file, workflow] of Object.entries(workflows)) {
    if (!isObj(workflow) || !triggers(workflow).includes("workflow_call")) continue;
    const listedBy = ENVIRONMENTS.filter((stack) => { const g = groups[stack]; return g !== undefined && g !== "any" && g.includes(file); });
    if (listedBy.length === 0) continue;
    for (const [jobId, job] of Object.entries((workflow.jobs ?? {}) as Obj)) {
      if (!isObj(job) || !runnerLabels(job).some((l) => l === "self-hosted" || l.includes("ske-deploy-"))) continue;
      // The guard must bind the whole condition: an `||` could let any other run past it.
      const condition = displayText(job.if ?? "");
      if (!MAIN_REF_GUARD.test(condition) || condition.includes("||")) {
        out.push({ file, job: jobId, instance: "", rule: "unguarded-reusable-on-runners", message: `${file} is admitted by the runner groups of ${listedBy.join(", ")} and can be called from any branch as <owner>/<repo>/.github/workflows/${file}@${PROTECTED_BRANCH}, which runs at refs/heads/${PROTECTED_BRANCH} with the branch's inputs and code; the job needs \`if: github.ref == 'refs/heads/${PROTECTED_BRANCH}'\`` });
      }
    }
  }
  return out;
}

/** The stacks whose deploy runners a job asks for, by label or by runner group. */
function runnerStacksOf(job: Obj, runnerStack: Map<string, EnvironmentName>): EnvironmentName[] {
  const labels = runnerLabels(job);
  const group = labels.find((l) => l.startsWith("group:"))?.slice("group:".length);
  const named = [...labels.filter((l) => !l.startsWith("group:")), ...(group ? [group] : [])];
  return [...new Set(named.flatMap((l) => (runnerStack.has(l) ? [runnerStack.get(l)!] : [])))];
}

function checkJob(
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
  const jobWide = secretsReferenced({ env: job.env ?? {}, defaults: job.defaults ?? {}, container: job.container ?? {}, services: job.services ?? {} });
  if (jobWide.length > 0) {
    out.push({ ...base, rule: "job-wide-secret", message: `job-level env, container or services expose ${jobWide.join(", ")} to every step (checkout, install, the program); set them on the one step that needs them` });
  }

  const used = secretsReferenced(job);
  if (used.includes("*")) out.push({ ...base, rule: "all-secrets", message: "reads the whole secrets context (e.g. toJSON(secrets))" });
  const envName = environmentName(job);
  const environment = envName && !hasExpression(envName) ? byName.get(envName) : undefined;
  const labels = runnerLabels(job);
  const runnerStacks = runnerStacksOf(job, runnerStack);
  // A label is only a string any runner may carry; the group is what GitHub
  // restricts. Naming both means a runner of another group never takes the job.
  const group = labels.find((l) => l.startsWith("group:"))?.slice("group:".length);
  const labelStacks = [...new Set(labels.flatMap((l) => (runnerStack.has(l) ? [runnerStack.get(l)!] : [])))];
  for (const stack of labelStacks) {
    if (group === undefined) {
      out.push({ ...base, stack, rule: "runner-group-missing", message: `asks for ${deployRunnerLabel(stack)} by label only; name its runner group too: \`runs-on: { group: ${deployRunnerLabel(stack)}, labels: [self-hosted, ${deployRunnerLabel(stack)}] }\`` });
    } else if (group !== deployRunnerLabel(stack)) {
      out.push({ ...base, stack, rule: "runner-group-mismatch", message: `asks for the label ${deployRunnerLabel(stack)} in runner group ${group}` });
    }
  }
  if (group !== undefined && runnerStack.has(group) && labelStacks.length === 0) {
    out.push({ ...base, stack: runnerStack.get(group)!, rule: "runner-group-mismatch", message: `asks for runner group ${group} without its label ${group}` });
  }
  const change = changeReason(job);
  const isChanging = change !== undefined;

  if (envName === undefined) {
    for (const name of used.filter((n) => n !== "*")) {
      if (inst.passedSecrets.includes(name)) continue; // reported at the caller
      out.push({ ...base, rule: "repository-secret", message: `reads secret ${name} with no deployment environment: a repository or organisation secret, behind no approval` });
    }
  } else if (hasExpression(envName)) {
    out.push({ ...base, rule: "unresolved-environment", message: `environment \`${envName}\` cannot be resolved from the workflow files; name it from a fixed list (matrix or input values)` });
  } else if (!environment) {
    out.push({ ...base, rule: "undeclared-environment", message: `environment ${envName} is not declared by the program; GitHub would create it on first use with no protection` });
  } else {
    // Since December 2025 GitHub matches branch policies against the run's
    // ref, which for pull_request runs is refs/pull/<n>/merge: such a job is
    // refused by a main-only environment and never starts.
    if (mainOnly(environment) && inst.events.every((e) => PULL_REQUEST_REF_EVENTS.includes(e))) {
      out.push({ ...base, stack: environment.stack, rule: "environment-refuses-ref", message: `uses ${environment.name}, which serves ${PROTECTED_BRANCH} only, from a ${inst.events.join("/")} run at refs/pull/<n>/merge: GitHub refuses the job` });
    }
    for (const name of used.filter((n) => n !== "*" && !environment.secrets.includes(n))) {
      out.push({ ...base, stack: environment.stack, rule: "undeclared-secret", message: `reads secret ${name}, which ${environment.name} does not declare; GitHub would fall back to a repository or organisation secret` });
    }
    if (gated.has(environment.stack)) {
      const problem = gateProblem(environment, isChanging);
      if (problem && used.length > 0) {
        const what = isChanging ? `changes ${environment.stack} (${change}) with its secrets (${used.join(", ")})` : `reaches ${environment.stack} secrets (${used.join(", ")})`;
        out.push({ ...base, stack: environment.stack, rule: isChanging ? "ungated-change" : "ungated-environment", message: `${what} without a second person's approval: ${problem}` });
      }
    }
  }

  // Runners inside a gated environment's network are themselves a credential.
  for (const stack of runnerStacks) {
    if (environment && environment.stack !== stack) {
      out.push({ ...base, stack, rule: "runner-environment-mismatch", message: `runs on ${deployRunnerLabel(stack)} with the credentials of ${environment.name} (${environment.stack})` });
      continue;
    }
    if (!gated.has(stack)) continue;
    const problem = environment ? gateProblem(environment, isChanging) : "it has no deployment environment";
    if (problem) out.push({ ...base, stack, rule: "runner-outside-gate", message: `runs on ${deployRunnerLabel(stack)}, inside ${stack}'s network, without a second person's approval: ${problem}` });
  }
  if (labels.some((l) => hasExpression(l)) && (used.length > 0 || labels.includes("self-hosted"))) {
    out.push({ ...base, rule: "unresolved-environment", message: `runs-on \`${labels.join(", ")}\` cannot be resolved from the workflow files` });
  }

  const fromPullRequest = inst.events.some((e) => e === "pull_request" || e === "pull_request_target");
  if (fromPullRequest && labels.includes("self-hosted") && !SAME_REPOSITORY_GUARD.test(displayText(job.if ?? ""))) {
    out.push({ ...base, rule: "fork-on-self-hosted", message: "runs pull-request code on a self-hosted runner without `if: github.event.pull_request.head.repo.full_name == github.repository`" });
  }

  if (inst.events.some((e) => PRIVILEGED_EVENTS.includes(e))) {
    // The one accepted form: the environment's required reviewers (never the
    // run's starter) approve before the job starts, so no step, and no step
    // of an ungated job, touches the pull request's code before a second
    // person has read it; the job only previews; and it checks out the exact
    // commit the run was started for, which a later push cannot move.
    const gate = environment ? approvalGateProblem(environment) : `it has no deployment environment${envName && hasExpression(envName) ? " that the check can resolve" : ""}`;
    for (const step of steps) {
      const checkout = typeof step.uses === "string" && /^actions\/checkout@/.test(step.uses);
      const ref = displayText(fieldsOf(step.with).ref ?? "").trim();
      const refs = JSON.stringify([fieldsOf(step.with).ref ?? "", fieldsOf(step.with).repository ?? ""]);
      const fetches = typeof step.run === "string" && (/\bgh\s+pr\s+checkout\b/.test(step.run) || (/\bgit\s+(fetch|checkout)\b/.test(step.run) && PR_HEAD_REF.test(step.run)));
      if (!(checkout && PR_HEAD_REF.test(refs)) && !fetches) continue;
      const why = gate
        ?? (isChanging ? `it changes ${environment!.stack} (${change}) from code that is not on ${PROTECTED_BRANCH}` : undefined)
        ?? (fetches || !PINNED_HEAD.test(ref) || fieldsOf(step.with).repository ? "it fetches a moving ref; check out `github.event.pull_request.head.sha` (or `workflow_run.head_sha`) of this repository, the commit the approval was for" : undefined);
      if (why) {
        out.push({ ...base, rule: "untrusted-checkout", message: `checks out pull-request code in a ${inst.events.join("/")} run, which has the base repository's secrets and write token: ${why}` });
      }
    }
  }

  for (const [index, step] of steps.entries()) {
    if (typeof step.run !== "string") continue;
    for (const expression of step.run.matchAll(EXPRESSION)) {
      if (UNTRUSTED_INPUT.test(expression[1]!)) {
        out.push({ ...base, rule: "script-injection", message: `step ${displayText(step.name ?? index + 1)} expands \`${expression[0].trim()}\` into its script; pass it through env instead` });
      }
    }
  }
  return out;
}

/** One line per finding, for test messages and the command-line check. */
export function formatFinding(f: Finding): string {
  return `${f.file}: ${f.job}${f.instance ? `[${f.instance}]` : ""}: ${f.rule}: ${f.message}`;
}
