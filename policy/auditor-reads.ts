/**
 * What "read-only" means for auditors beyond verbs: no object that carries
 * credentials indirectly, and in Argo CD no logs or exec. Pure helpers for
 * the `auditors-read-only` policy.
 */
// The policy keeps its own lists: a check that imported the component's table would widen with it.

/** The auditors' Argo CD role, by name; components/argocd/values.ts defines it. */
export const AUDITOR_ROLE = "role:ske-auditor";

const INDIRECT_SECRET_RESOURCES = [
  "configmaps", "pods", "podtemplates", "replicationcontrollers", "deployments", "replicasets",
  "statefulsets", "daemonsets", "controllerrevisions", "jobs", "cronjobs",
];

/** API groups whose resources of these names are the built-in kinds with pod specs or ConfigMap data. */
const INDIRECT_GROUPS = new Set(["", "apps", "batch", "*"]);

export function indirectSecretProblems(index: number, groups: readonly string[], resources: readonly string[]): string[] {
  if (!groups.some((g) => INDIRECT_GROUPS.has(g))) return [];
  const indirect = new Set<string>(INDIRECT_SECRET_RESOURCES);
  const hits = resources.filter((r) => indirect.has(r) || r === "*");
  return hits.length > 0 ? [`rule ${index} reaches ${hits.join(", ")}, whose data or inline pod spec (env values) can carry credentials`] : [];
}

/** Argo CD RBAC resources a `get` on which shows workload output or opens a shell. */
const ARGOCD_FORBIDDEN = new Set(["logs", "exec", "*"]);
const ARGOCD_ALLOWED = new Set(["applications", "applicationsets", "projects", "clusters", "repositories"]);

/**
 * The auditor role's own lines in `policy.csv`: only `get`, only on the
 * listed resources, and no inheritance from another role (role:readonly
 * would bring `logs, get` back).
 */
export function argoCdAuditorRoleProblems(csv: string): string[] {
  const problems: string[] = [];
  let grants = 0;
  for (const line of csv.split("\n")) {
    const fields = line.split(",").map((f) => f.trim());
    const [kind, subject] = fields;
    if (kind === "p" && subject === AUDITOR_ROLE) {
      const [, , resource = "", action = "", , effect = "allow"] = fields;
      if (effect !== "allow") continue;
      grants += 1;
      if (ARGOCD_FORBIDDEN.has(resource)) problems.push(`${AUDITOR_ROLE} is granted ${action} on ${resource}`);
      else if (!ARGOCD_ALLOWED.has(resource)) problems.push(`${AUDITOR_ROLE} is granted ${action} on ${resource}, which is not on its read list`);
      if (action !== "get") problems.push(`${AUDITOR_ROLE} is granted ${action} on ${resource}, not only get`);
    }
    if (kind === "g" && subject === AUDITOR_ROLE) problems.push(`${AUDITOR_ROLE} inherits ${fields[2]}`);
  }
  if (grants === 0) problems.push(`${AUDITOR_ROLE} is not defined in policy.csv, so what auditors can do cannot be checked`);
  return problems;
}
