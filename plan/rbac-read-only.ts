/**
 * What "read-only" means for a Kubernetes RBAC rule table: the one
 * definition that components/cluster-access applies to the tables it renders
 * and the auditors-read-only policy applies to whatever role the stack binds
 * to the auditor group. Pure. It lives apart from the tables it judges, so
 * widening a table never widens the check.
 */

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** The only verbs an auditor ever gets. */
export const READ_VERBS = ["get", "list", "watch"] as const;

/**
 * Objects that carry credentials without being Secrets: ConfigMap data, and
 * every kind with an inline pod spec, whose `env[].value` holds whatever the
 * author put there. Kubernetes RBAC cannot grant metadata without the spec,
 * so auditors read none of them here; they see workloads through Argo CD's
 * application view and every change to them in the audit log
 * (docs/decisions/auditor-indirect-secrets.md).
 */
export const INDIRECT_SECRET_RESOURCES = [
  "configmaps",
  "pods",
  "podtemplates",
  "replicationcontrollers",
  "deployments",
  "replicasets",
  "statefulsets",
  "daemonsets",
  "controllerrevisions",
  "jobs",
  "cronjobs",
] as const;

/**
 * Resources an auditor must never read, whatever else changes. Secrets hold
 * credentials; the subresources run code in or tunnel into workloads, and a
 * token request mints credentials. `pods/log` stays out too: workload logs
 * can carry secrets and are read through Grafana/Loki, which is audited.
 */
export const FORBIDDEN_RESOURCES = [
  "secrets",
  "pods/exec",
  "pods/attach",
  "pods/portforward",
  "pods/proxy",
  "pods/log",
  "services/proxy",
  "nodes/proxy",
  "serviceaccounts/token",
  "tokenreviews",
  "subjectaccessreviews",
  "certificatesigningrequests/approval",
  ...INDIRECT_SECRET_RESOURCES,
] as const;

/**
 * Everything that would make a rule table more than read-only. components/cluster-access
 * refuses a table with problems, so widening it by accident fails synth; the
 * auditors-read-only policy reports them for any role bound to auditors.
 */
export function readOnlyRuleProblems(
  rules: readonly PolicyRule[],
  never: readonly string[] = FORBIDDEN_RESOURCES,
): string[] {
  const problems: string[] = [];
  const forbidden = new Set<string>(never);
  const allowedVerbs = new Set<string>(READ_VERBS);
  rules.forEach((rule, i) => {
    const at = `rule ${i} (${rule.apiGroups.join(",") || "core"})`;
    if (rule.apiGroups.length === 0 || rule.resources.length === 0 || rule.verbs.length === 0) {
      problems.push(`${at}: apiGroups, resources and verbs must each be listed`);
    }
    for (const group of rule.apiGroups) {
      if (group.includes("*")) problems.push(`${at}: wildcard API group "${group}"`);
    }
    for (const verb of rule.verbs) {
      if (!allowedVerbs.has(verb)) problems.push(`${at}: verb "${verb}" is not read-only`);
    }
    for (const resource of rule.resources) {
      if (resource.includes("*")) problems.push(`${at}: wildcard resource "${resource}"`);
      else if (forbidden.has(resource)) problems.push(`${at}: "${resource}" is never readable by auditors`);
      // Subresources are where reads turn into actions (exec, proxy, token): none at all.
      else if (resource.includes("/")) problems.push(`${at}: subresource "${resource}" is not granted to auditors`);
    }
  });
  return problems;
}
