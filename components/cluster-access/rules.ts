/**
 * The auditors' view of a cluster as plain RBAC data. Pure: no Pulumi, so the
 * table and its guard are tested directly and the component only renders it.
 */
import type { ClusterRole } from "../../plan/cluster-names";

import {
  FORBIDDEN_RESOURCES,
  INDIRECT_SECRET_RESOURCES,
  READ_VERBS,
  readOnlyRuleProblems,
  type PolicyRule,
} from "../../plan/rbac-read-only";

export { FORBIDDEN_RESOURCES, INDIRECT_SECRET_RESOURCES, READ_VERBS, readOnlyRuleProblems, type PolicyRule };

const read = (apiGroup: string, resources: string[]): PolicyRule => ({
  apiGroups: [apiGroup],
  resources,
  verbs: [...READ_VERBS],
});

/**
 * Cluster state an auditor reviews, resource by resource. Explicit names, not
 * `*`: a wildcard would silently include Secrets and every subresource, and
 * any CRD installed later. A new kind is a reviewed change to this table.
 */
export const AUDITOR_RULES: readonly PolicyRule[] = [
  read("", [
    "namespaces",
    "nodes",
    "services",
    "endpoints",
    "serviceaccounts",
    "persistentvolumes",
    "persistentvolumeclaims",
    "events",
    "limitranges",
    "resourcequotas",
  ]),
  read("autoscaling", ["horizontalpodautoscalers"]),
  read("policy", ["poddisruptionbudgets"]),
  read("networking.k8s.io", ["networkpolicies", "ingresses", "ingressclasses"]),
  read("discovery.k8s.io", ["endpointslices"]),
  read("events.k8s.io", ["events"]),
  // Who may do what is the heart of an access review.
  read("rbac.authorization.k8s.io", ["roles", "rolebindings", "clusterroles", "clusterrolebindings"]),
  read("storage.k8s.io", ["storageclasses", "volumeattachments", "csidrivers", "csinodes"]),
  read("scheduling.k8s.io", ["priorityclasses"]),
  read("node.k8s.io", ["runtimeclasses"]),
  read("apiextensions.k8s.io", ["customresourcedefinitions"]),
  read("admissionregistration.k8s.io", [
    "validatingwebhookconfigurations",
    "mutatingwebhookconfigurations",
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
  ]),
  read("cilium.io", ["ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies"]),
  read("argoproj.io", ["applications", "applicationsets", "appprojects"]),
];

/**
 * The platform team's cluster-wide view: the auditors' table plus workloads
 * and ConfigMaps, which operators must read to run the platform (a pod spec
 * in kube-system is how a failing control plane is diagnosed). Still no
 * Secrets and no subresource, so reading never turns into exec or a token.
 */
export const PLATFORM_READ_RULES: readonly PolicyRule[] = [
  ...AUDITOR_RULES,
  read("", ["pods", "configmaps", "podtemplates", "replicationcontrollers"]),
  read("apps", ["deployments", "replicasets", "statefulsets", "daemonsets", "controllerrevisions"]),
  read("batch", ["jobs", "cronjobs"]),
];

/** What the platform team's read-only view never reaches: the auditors' list less the indirect-secret kinds it is trusted with. */
export const PLATFORM_READ_FORBIDDEN: readonly string[] = FORBIDDEN_RESOURCES.filter(
  (resource) => !(INDIRECT_SECRET_RESOURCES as readonly string[]).includes(resource),
);

/**
 * Groups as each consumer sees them. The apiserver prepends the configured
 * prefix to the token's groups (the clusters' OIDC claim mapping), so RBAC
 * subjects carry it; Argo CD and Grafana read the token's claim as issued.
 */
export interface AccessGroups {
  platform: string;
  auditors: string;
}

export function kubernetesGroups(groups: AccessGroups, prefix: string): AccessGroups {
  return { platform: `${prefix}${groups.platform}`, auditors: `${prefix}${groups.auditors}` };
}

// ---- The platform group's everyday role ---------------------------------------

/**
 * Verbs that turn an RBAC grant into more RBAC: acting as someone else,
 * binding a role one does not hold, or creating a role wider than one's own.
 * The everyday role never has them; that is the break-glass group's job.
 */
export const ESCALATION_VERBS = ["impersonate", "bind", "escalate", "approve", "sign", "*"] as const;

const WRITE_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];
const write = (apiGroup: string, resources: string[]): PolicyRule => ({
  apiGroups: [apiGroup],
  resources,
  verbs: [...WRITE_VERBS],
});

/**
 * What the platform group may do inside a namespace it operates. Bound per
 * namespace (RoleBinding), never cluster-wide: RBAC is additive and cannot
 * exclude a namespace, and creating a pod in a namespace is as good as reading
 * its Secrets and using its service accounts. So exec, Secrets and workload
 * writes exist only where the team works, never in kube-system, Argo CD's
 * namespace or the audit namespaces. No roles or role bindings either: who
 * may do what changes through Git and Argo CD, where it is reviewed.
 */
export const PLATFORM_OPERATOR_RULES: readonly PolicyRule[] = [
  write("", [
    "pods",
    "services",
    "endpoints",
    "configmaps",
    "secrets",
    "persistentvolumeclaims",
    "serviceaccounts",
    "events",
    "limitranges",
    "resourcequotas",
    "replicationcontrollers",
  ]),
  // Debugging the team's own workloads.
  { apiGroups: [""], resources: ["pods/log"], verbs: ["get", "list", "watch"] },
  { apiGroups: [""], resources: ["pods/exec", "pods/attach", "pods/portforward"], verbs: ["get", "create"] },
  { apiGroups: [""], resources: ["pods/eviction"], verbs: ["create"] },
  write("apps", ["deployments", "replicasets", "statefulsets", "daemonsets", "controllerrevisions"]),
  write("apps", ["deployments/scale", "statefulsets/scale", "replicasets/scale"]),
  write("batch", ["jobs", "cronjobs"]),
  write("autoscaling", ["horizontalpodautoscalers"]),
  write("policy", ["poddisruptionbudgets"]),
  write("networking.k8s.io", ["networkpolicies", "ingresses"]),
  write("discovery.k8s.io", ["endpointslices"]),
  write("cilium.io", ["ciliumnetworkpolicies"]),
];

/** Resources the everyday role never touches, whatever else changes. */
export const PLATFORM_FORBIDDEN_RESOURCES = [
  "roles",
  "rolebindings",
  "clusterroles",
  "clusterrolebindings",
  "serviceaccounts/token",
  "nodes",
  "nodes/proxy",
  "services/proxy",
  "pods/proxy",
  "certificatesigningrequests",
  "certificatesigningrequests/approval",
  "validatingadmissionpolicies",
  "validatingadmissionpolicybindings",
  "validatingwebhookconfigurations",
  "mutatingwebhookconfigurations",
  "customresourcedefinitions",
  "namespaces",
  "ciliumclusterwidenetworkpolicies",
  "users",
  "groups",
  "userextras/scopes",
  "tokenreviews",
] as const;

/**
 * Everything that would make the everyday role a back door: escalation
 * verbs, wildcards (which would include all of the above and any CRD
 * installed later), RBAC objects, token requests and cluster-scoped kinds.
 */
export function platformRuleProblems(rules: readonly PolicyRule[]): string[] {
  const problems: string[] = [];
  const forbidden = new Set<string>(PLATFORM_FORBIDDEN_RESOURCES);
  const escalation = new Set<string>(ESCALATION_VERBS);
  rules.forEach((rule, i) => {
    const at = `rule ${i} (${rule.apiGroups.join(",") || "core"})`;
    if (rule.apiGroups.length === 0 || rule.resources.length === 0 || rule.verbs.length === 0) {
      problems.push(`${at}: apiGroups, resources and verbs must each be listed`);
    }
    for (const group of rule.apiGroups) {
      if (group.includes("*")) problems.push(`${at}: wildcard API group "${group}"`);
      if (
        group === "rbac.authorization.k8s.io" ||
        group === "admissionregistration.k8s.io" ||
        group === "certificates.k8s.io"
      ) {
        problems.push(`${at}: API group "${group}" changes who may do what; it goes through Git`);
      }
    }
    for (const verb of rule.verbs) {
      if (escalation.has(verb)) problems.push(`${at}: verb "${verb}" escalates`);
    }
    for (const resource of rule.resources) {
      if (resource.includes("*")) problems.push(`${at}: wildcard resource "${resource}"`);
      else if (forbidden.has(resource)) problems.push(`${at}: "${resource}" is never granted to the everyday role`);
    }
  });
  return problems;
}

/**
 * Namespaces the everyday role must never be bound in: Kubernetes' own,
 * Argo CD's (its Secrets hold every cluster's credentials) and the audit
 * namespaces (collector credentials; tampering with the trail). The stack
 * adds the configured Argo CD and audit namespace names.
 */
export const ALWAYS_PROTECTED_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease", "default"] as const;

export function operatedNamespaceProblems(
  operated: readonly string[],
  protectedNamespaces: readonly string[],
): string[] {
  const closed = new Set<string>([...ALWAYS_PROTECTED_NAMESPACES, ...protectedNamespaces]);
  return operated
    .filter((ns) => closed.has(ns))
    .map((ns) => `namespace "${ns}" is protected (${[...closed].join(", ")}); the everyday role cannot be bound there`);
}

/**
 * Where the platform team works with kubectl. Management clusters: the Cluster
 * API controllers (core, OpenStack infrastructure, Talos bootstrap and control
 * plane providers). The ops cluster runs only Argo CD, the audit trail and
 * Grafana: the team changes it through Git and Argo CD and reads it with the
 * cluster-wide read-only role, so it has no operated namespace by default.
 */
export const OPERATED_NAMESPACES: Readonly<Record<ClusterRole, readonly string[]>> = {
  ops: [],
  management: ["capi-system", "capo-system", "cabpt-system", "cacppt-system"],
};
