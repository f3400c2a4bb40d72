/**
 * What the two-person check (plan/ci-two-person-rule.ts) reads from a parsed
 * workflow: its findings' shape, and the facts about a job (triggers, the
 * secrets it names, matrix instances, runners, environment, whether it
 * changes a stack). Pure.
 */
import type { EnvironmentName } from "./address-plan";
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

export type Obj = Record<string, unknown>;

export const GITHUB_TOKEN = "GITHUB_TOKEN";
export const SECRET_REF = /\bsecrets\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*['"]([^'"]+)['"]\s*\])/g;
/** `toJSON(secrets)` or a bare `secrets` object: every secret of the context at once. */
export const ALL_SECRETS = /\bsecrets\b(?!\s*[.[])/;
export const EXPRESSION = /\$\{\{([\s\S]*?)\}\}/g;
/**
 * Context fields an outsider writes (titles, bodies, branch names, commit
 * messages, author names): expanded into a shell script, they are code.
 */
export const UNTRUSTED_INPUT =
  /\bgithub\.head_ref\b|\bgithub\.event\.(?:pull_request|issue|comment|review|review_comment|discussion|head_commit|commits|workflow_run|pages|release)\b[\w.[\]*'"-]*\.(?:title|body|message|ref|label|name|email|default_branch|head_branch|page_name)\b/;
/** A checkout of code the base repository's reviewers have not approved. */
export const PR_HEAD_REF = /github\.event\.(?:pull_request\.head|workflow_run\.head)|github\.head_ref|refs\/pull\//;
/** Pulumi commands that write state or infrastructure. */
export const PULUMI_WRITE =
  /\bpulumi\s+(?:[^\n;&|]*\s)?(?:up|update|destroy|refresh|import|cancel|state|stack\s+(?:rm|import|change-secrets-provider))\b/;
/** A checkout pinned to the commit the run was started for, which a later push cannot move. */
export const PINNED_HEAD = /^\$\{\{\s*github\.event\.(?:pull_request\.head\.sha|workflow_run\.head_sha)\s*\}\}$/;
/** The guard that keeps a reusable workflow's runner job to runs of main's reviewed workflow files. */
export const MAIN_REF_GUARD = /github\.ref\s*==\s*'refs\/heads\/main'/;
/** Events whose runs take the workflow files of the default branch and run with the base repository's secrets. */
export const PRIVILEGED_EVENTS = ["pull_request_target", "workflow_run"];
/** Events whose runs are at a ref no runner-group entry can name (`refs/pull/<n>/merge`). */
export const PULL_REQUEST_REF_EVENTS = ["pull_request", "pull_request_review", "pull_request_review_comment"];
/** Fork pull requests must never reach a self-hosted runner; the job must say so itself. */
export const SAME_REPOSITORY_GUARD = /github\.event\.pull_request\.head\.repo\.full_name\s*==\s*github\.repository/;

/** A map's fields, or none when the value is not a map (as `value?.field` would find none). */
export function fieldsOf(value: unknown): Obj {
  return isObj(value) ? value : {};
}

export function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
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
export function strings(value: unknown, path = ""): { path: string; text: string }[] {
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
    const bodies =
      /(^|\.)if$/.test(path) && !text.includes("${{") ? [text] : [...text.matchAll(EXPRESSION)].map((e) => e[1]!);
    for (const body of bodies) {
      for (const ref of body.matchAll(SECRET_REF)) found.add(ref[1] ?? ref[2]!);
      if (ALL_SECRETS.test(body)) found.add("*");
    }
  }
  return [...found].filter((name) => name !== GITHUB_TOKEN).sort();
}

/** Replaces `${{ <context>.<key> }}` with known values; anything else stays an expression. */
export function substitute(value: unknown, context: string, values: Record<string, unknown>): unknown {
  if (typeof value === "string") {
    return value.replace(
      new RegExp(`\\$\\{\\{\\s*${context}\\.([A-Za-z0-9_-]+)\\s*\\}\\}`, "g"),
      (whole, key: string) =>
        key in values && ["string", "number", "boolean"].includes(typeof values[key]) ? String(values[key]) : whole,
    );
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, context, values));
  if (isObj(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, context, values)]));
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
    combos = combos.filter(
      (c) => !(isObj(pattern) && Object.entries(pattern).every(([k, v]) => JSON.stringify(c[k]) === JSON.stringify(v))),
    );
  }
  const baseKeys = Object.keys(matrix).filter((k) => k !== "include" && k !== "exclude");
  for (const extra of Array.isArray(matrix.include) ? matrix.include : []) {
    if (!isObj(extra)) continue;
    const base = Object.fromEntries(Object.entries(extra).filter(([k]) => baseKeys.includes(k)));
    const targets = baseKeys.length > 0 && Object.keys(base).length > 0 ? combos.filter((c) => matches(c, base)) : [];
    if (targets.length > 0) targets.forEach((t) => Object.assign(t, extra));
    else if (baseKeys.length === 0 && combos.length === 1 && Object.keys(combos[0]!).length === 0)
      combos = [{ ...extra }];
    else combos.push({ ...extra });
  }
  return combos;
}

export function runnerLabels(job: Obj): string[] {
  const runsOn = job["runs-on"];
  if (typeof runsOn === "string") return [runsOn];
  if (Array.isArray(runsOn)) return runsOn.map(String);
  if (isObj(runsOn))
    return [
      ...[runsOn.labels ?? []].flat().map(String),
      ...(runsOn.group ? [`group:${displayText(runsOn.group)}`] : []),
    ];
  return [];
}

export function environmentName(job: Obj): string | undefined {
  const env = job.environment;
  if (typeof env === "string") return env;
  if (isObj(env) && typeof env.name === "string") return env.name;
  return undefined;
}

export function hasExpression(text: string): boolean {
  return text.includes("${{");
}

/** Why the job can write state or infrastructure (unreadable commands count as writing), or undefined. */
export function changeReason(job: Obj): string | undefined {
  for (const step of Array.isArray(job.steps) ? (job.steps as Obj[]) : []) {
    if (typeof step.uses === "string" && /^pulumi\/actions@/.test(step.uses)) {
      const command = displayText(fieldsOf(step.with).command ?? "");
      if (command !== "preview") return `pulumi/actions runs \`${command}\``;
      const refresh = fieldsOf(step.with).refresh;
      if (refresh !== undefined && refresh !== false && refresh !== "false")
        return `pulumi/actions' \`refresh: ${displayText(refresh)}\` saves the refreshed state`;
    }
    if (typeof step.run === "string") {
      const match = PULUMI_WRITE.exec(step.run);
      if (match) return `a step runs \`${match[0]}\``;
    }
  }
  return undefined;
}
