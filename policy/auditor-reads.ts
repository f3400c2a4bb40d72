/**
 * What "read-only" means for auditors in Argo CD: no logs or exec. Pure
 * helpers for the `auditors-read-only` policy; the Kubernetes side is
 * plan/rbac-read-only.ts, shared with components/cluster-access.
 */
// The policy keeps its own Argo CD lists: a check that imported the component's values would widen with them.

/** The auditors' Argo CD role, by name; components/argocd/values.ts defines it. */
export const AUDITOR_ROLE = "role:ske-auditor";

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
      else if (!ARGOCD_ALLOWED.has(resource))
        problems.push(`${AUDITOR_ROLE} is granted ${action} on ${resource}, which is not on its read list`);
      if (action !== "get") problems.push(`${AUDITOR_ROLE} is granted ${action} on ${resource}, not only get`);
    }
    if (kind === "g" && subject === AUDITOR_ROLE) problems.push(`${AUDITOR_ROLE} inherits ${fields[2]}`);
  }
  if (grants === 0)
    problems.push(`${AUDITOR_ROLE} is not defined in policy.csv, so what auditors can do cannot be checked`);
  return problems;
}
