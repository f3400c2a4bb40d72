/** The auditor roles grant reads only, and no read that executes, tunnels or mints credentials. */
import { at, isOpaque, resourceId, type PolicyResource, type StackPolicy, type Violation } from "./model";
import { TYPES } from "./resource-types";
import { readOnlyRuleProblems } from "../plan/rbac-read-only";
import { AUDITOR_ROLE, argoCdAuditorRoleProblems } from "./auditor-reads";
import { isArgoCdRelease } from "./argocd-exposure";

/** A recorded role's rules judged by the one definition of read-only (plan/rbac-read-only.ts). */
function roleRuleProblems(rules: unknown): string[] {
  if (!Array.isArray(rules)) return isOpaque(rules) ? ["its rules are not known at preview"] : [];
  const list = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);
  return readOnlyRuleProblems(
    rules.map((rule: Record<string, unknown>) => ({
      apiGroups: list(rule.apiGroups),
      resources: list(rule.resources),
      verbs: list(rule.verbs),
    })),
  );
}

const bindingSubjects = (binding: PolicyResource) =>
  Array.isArray(binding.props.subjects) ? (binding.props.subjects as Record<string, unknown>[]) : [];

export const auditorReadOnly: StackPolicy = {
  kind: "stack",
  name: "auditors-read-only",
  control: "6.5-audit",
  enforcement: "mandatory",
  description:
    "Every role bound to the auditor group is read-only: get/list/watch only, no Secrets, no exec/attach/portforward/proxy/token, no ConfigMaps or inline pod specs (env values); Argo CD maps auditors only to role:ske-auditor, which reads without logs or exec.",
  remediation:
    "Bind auditors only to components/cluster-access's read-only ClusterRole; give write access to the platform group instead.",
  validate: ({ resources }, ctx) => {
    const violations: Violation[] = [];
    const roles = resources.filter((r) => r.type === TYPES.clusterRole || r.type === TYPES.role);
    const bindings = resources.filter((r) => r.type === TYPES.clusterRoleBinding || r.type === TYPES.roleBinding);
    for (const binding of bindings) {
      const auditorBound = bindingSubjects(binding).some(
        (s) => s.kind === "Group" && s.name === ctx.auditors.kubernetesGroup,
      );
      if (!auditorBound) continue;
      const roleRef = binding.props.roleRef as { kind?: string; name?: string } | undefined;
      // Same-named roles recur once per cluster; the binding's provider is not visible here, so every one is judged.
      const defined = roles.filter(
        (r) => at(r.props, ["metadata", "name"]) === roleRef?.name && r.type.endsWith(`:${roleRef?.kind}`),
      );
      if (defined.length === 0) {
        violations.push({
          resource: resourceId(binding),
          message: `${binding.name} binds ${ctx.auditors.kubernetesGroup} to ${roleRef?.kind} ${roleRef?.name}, which this stack does not define, so its rules cannot be checked`,
        });
      }
      for (const role of defined) {
        for (const problem of roleRuleProblems(role.props.rules)) {
          violations.push({
            resource: resourceId(role),
            message: `${role.name} (bound to ${ctx.auditors.kubernetesGroup} by ${binding.name}): ${problem}`,
          });
        }
      }
    }
    for (const release of resources.filter(isArgoCdRelease)) {
      const csv = at(release.props, ["values", "configs", "rbac", "policy.csv"]);
      if (typeof csv !== "string") continue;
      for (const line of csv.split("\n")) {
        const [kind, subject, role] = line.split(",").map((s) => s.trim());
        if (kind === "g" && subject === ctx.auditors.argocdGroup && role !== AUDITOR_ROLE) {
          violations.push({
            resource: resourceId(release),
            message: `Argo CD maps ${subject} to ${role}, not ${AUDITOR_ROLE}`,
          });
        }
      }
      violations.push(...argoCdAuditorRoleProblems(csv).map((message) => ({ resource: resourceId(release), message })));
    }
    return violations;
  },
};
