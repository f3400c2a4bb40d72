/**
 * Kubernetes RBAC authorization over the roles and bindings a run recorded for
 * one cluster (one provider), so tests ask "may this group do that?" of what
 * the program really registers, as the apiserver would answer it.
 *
 * The built-in aggregated roles are not recorded by the program; any binding
 * to `cluster-admin`, `admin` or `edit` is treated as allowing everything,
 * which is the conservative answer for a test that asserts a refusal.
 */
import type { RecordedResource } from "../../synth/mock-runtime";

const RBAC = "kubernetes:rbac.authorization.k8s.io/v1:";
const BUILT_IN_BROAD = new Set(["cluster-admin", "admin", "edit"]);

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface Request {
  verb: string;
  /** `secrets`, `pods/exec`, `serviceaccounts`, …; API group separate. */
  resource: string;
  apiGroup?: string;
  /** Undefined for a cluster-scoped request. */
  namespace?: string;
}

const matches = (list: readonly string[] | undefined, value: string) =>
  (list ?? []).some((v) => v === "*" || v === value);

function ruleAllows(rule: Rule, req: Request): boolean {
  return (
    matches(rule.verbs, req.verb) &&
    matches(rule.apiGroups, req.apiGroup ?? "") &&
    matches(rule.resources, req.resource)
  );
}

export function authorizer(resources: readonly RecordedResource[], provider: string) {
  const mine = resources.filter((r) => r.provider?.split("::")[3] === provider);
  const meta = (r: RecordedResource) => r.inputs["metadata"] as { name?: string; namespace?: string };
  const clusterRoles = new Map(
    mine.filter((r) => r.type === `${RBAC}ClusterRole`).map((r) => [meta(r).name, r.inputs["rules"] as Rule[]]),
  );
  const roles = mine.filter((r) => r.type === `${RBAC}Role`);
  const bindings = mine.filter((r) => r.type === `${RBAC}ClusterRoleBinding` || r.type === `${RBAC}RoleBinding`);

  const rulesOf = (roleRef: { kind: string; name: string }, namespace: string | undefined): Rule[] | "all" => {
    if (roleRef.kind === "ClusterRole") {
      if (BUILT_IN_BROAD.has(roleRef.name)) return "all";
      return clusterRoles.get(roleRef.name) ?? [];
    }
    const role = roles.find((r) => meta(r).name === roleRef.name && meta(r).namespace === namespace);
    return (role?.inputs["rules"] as Rule[] | undefined) ?? [];
  };

  /** Whether a member of `group` may make the request. */
  return (group: string, req: Request): boolean =>
    bindings.some((binding) => {
      const subjects = (binding.inputs["subjects"] as { kind: string; name: string }[] | undefined) ?? [];
      if (!subjects.some((s) => s.kind === "Group" && s.name === group)) return false;
      const namespaced = binding.type.endsWith(":RoleBinding");
      const bindingNamespace = meta(binding).namespace;
      // A RoleBinding grants only inside its own namespace, never cluster-scoped requests.
      if (namespaced && (req.namespace === undefined || req.namespace !== bindingNamespace)) return false;
      const rules = rulesOf(binding.inputs["roleRef"] as { kind: string; name: string }, bindingNamespace);
      return rules === "all" || rules.some((rule) => ruleAllows(rule, req));
    });
}
