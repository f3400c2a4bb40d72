/**
 * Least privilege inside the clusters (issue 17, issue 11 B2/B3), as pure
 * policies over resource records: synth and the CrossGuard pack run them
 * through POLICIES like every other.
 */
import { CHART_RESOURCES, resourceProblems } from "../plan/workload-resources";
import { isPlatformLogCollector } from "./central-view";
import {
  at,
  isOpaque,
  resourceId,
  type PolicyResource,
  type ResourcePolicy,
  type StackPolicy,
  type Violation,
} from "./model";
import { vectorContainerProblems, vectorHostMountProblems } from "./vector-shape";

const T = {
  helmRelease: "kubernetes:helm.sh/v3:Release",
  clusterRoleBinding: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
  roleBinding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
  clusterRole: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
  vap: "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
  vapBinding: "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
  ciliumClusterwidePolicy: "kubernetes:cilium.io/v2:CiliumClusterwideNetworkPolicy",
} as const;

/** Built-in roles that read Secrets, exec and (edit/admin) impersonate service accounts. */
const BROAD_ROLES = new Set(["cluster-admin", "admin", "edit"]);
/** What a cluster-wide role of the platform group must never reach. */
const CLUSTER_WIDE_FORBIDDEN = ["secrets", "pods/exec", "pods/attach", "pods/portforward", "serviceaccounts/token"];
const ESCALATION_VERBS = ["impersonate", "bind", "escalate", "*"];

const subjectsOf = (binding: PolicyResource) =>
  (Array.isArray(binding.props.subjects) ? binding.props.subjects : []) as { kind?: string; name?: string }[];
const roleRefOf = (binding: PolicyResource) => (binding.props.roleRef ?? {}) as { kind?: string; name?: string };

export const platformNotClusterAdmin: StackPolicy = {
  kind: "stack",
  name: "platform-role-not-cluster-admin",
  control: "6.5-audit",
  enforcement: "mandatory",
  description:
    "No binding gives a person's group admin, edit or cluster-admin, except the break-glass group and only with MFA; the platform group's cluster-wide roles reach no Secret, exec, token request, impersonation, bind or escalate.",
  remediation:
    "Bind the platform group cluster-wide only to read-only roles and per namespace to components/cluster-access's operator role; cluster-admin is zitadel.breakGlassGroup's, with zitadel.requireMfa.",
  validate: ({ resources }, ctx) => {
    const violations: Violation[] = [];
    const breakGlass = ctx.breakGlass?.kubernetesGroup;
    const bindings = resources.filter((r) => r.type === T.clusterRoleBinding || r.type === T.roleBinding);
    for (const binding of bindings) {
      const ref = roleRefOf(binding);
      const people = subjectsOf(binding).filter((s) => s.kind === "Group" || s.kind === "User");
      if (ref.kind !== "ClusterRole" || !BROAD_ROLES.has(String(ref.name))) continue;
      for (const subject of people) {
        if (subject.kind === "Group" && subject.name === breakGlass && ref.name === "cluster-admin") {
          if (!ctx.oidc.requireMfa)
            violations.push({
              resource: resourceId(binding),
              message: `${binding.name} makes ${breakGlass} cluster-admin while the apiserver does not require MFA`,
            });
          continue;
        }
        violations.push({
          resource: resourceId(binding),
          message: `${binding.name} gives ${subject.kind} ${subject.name} the built-in ${ref.name} role`,
        });
      }
    }
    const platform = ctx.platform?.kubernetesGroup;
    if (platform) {
      const roles = resources.filter((r) => r.type === T.clusterRole);
      for (const binding of bindings.filter((b) => b.type === T.clusterRoleBinding)) {
        if (!subjectsOf(binding).some((s) => s.kind === "Group" && s.name === platform)) continue;
        const ref = roleRefOf(binding);
        for (const role of roles.filter((r) => at(r.props, ["metadata", "name"]) === ref.name)) {
          const rules = role.props.rules;
          if (!Array.isArray(rules)) {
            violations.push({
              resource: resourceId(role),
              message: `${role.name}: rules not known at preview, so ${platform}'s cluster-wide access cannot be checked`,
            });
            continue;
          }
          rules.forEach((rule: { resources?: string[]; verbs?: string[] }, i) => {
            const reached = (rule.resources ?? []).filter((r) => r === "*" || CLUSTER_WIDE_FORBIDDEN.indexOf(r) >= 0);
            const escalating = (rule.verbs ?? []).filter((v) => ESCALATION_VERBS.indexOf(v) >= 0);
            if (reached.length || escalating.length) {
              violations.push({
                resource: resourceId(role),
                message: `${role.name} (cluster-wide for ${platform} by ${binding.name}) rule ${i}: ${[...reached, ...escalating].join(", ")}`,
              });
            }
          });
        }
      }
    }
    return violations;
  },
};

const isRelease = (chart: string) => (r: PolicyResource) => r.type === T.helmRelease && r.props.chart === chart;
/** Every vector release but the central view's platform-log collector, which policy/central-view.ts holds to its own shape. */
const isAuditCollector = (r: PolicyResource) => isRelease("vector")(r) && !isPlatformLogCollector(r);

/** The one host directory the collector reads. Kept here as data: a policy must not trust the component it checks. */
const AUDIT_LOG_DIR = "/var/log/audit/kube";

export const collectorLeastPrivilege: ResourcePolicy = {
  kind: "resource",
  name: "audit-collector-least-privilege",
  control: "6.5-audit",
  enforcement: "mandatory",
  description: `The audit collector mounts only ${AUDIT_LOG_DIR}, read-only (none of the chart's default host /var/log, /var/lib, /proc, /sys, no hostPath data dir), runs as non-root with every capability dropped and a read-only root filesystem.`,
  remediation:
    "Keep defaultVolumes/defaultVolumeMounts empty, persistence.hostPath.enabled false and the securityContexts of components/audit-trail/collector-values.ts.",
  appliesTo: isAuditCollector,
  validate: (r) => {
    const values = r.props.values;
    if (isOpaque(values)) return [`the values of ${r.name} are not known at preview`];
    const problems = vectorHostMountProblems(values, AUDIT_LOG_DIR, {
      defaultMounts: " (the chart's default mounts host /var/log, /var/lib, /proc and /sys)",
      dataDir: ": the data dir is not a host path",
    });
    if (at(values, ["podSecurityContext", "runAsNonRoot"]) !== true)
      problems.push("podSecurityContext.runAsNonRoot must be true");
    if (at(values, ["podSecurityContext", "runAsUser"]) === 0 || at(values, ["securityContext", "runAsUser"]) === 0)
      problems.push("runs as root");
    problems.push(...vectorContainerProblems(values));
    return problems.map((p) => `${r.name}: ${p}`);
  },
};

/** Pulumi names by convention of the components: `<cluster>-cilium`, `<cluster>-audit-collector-vector`. */
const clusterOf = (release: PolicyResource, suffix: string) =>
  release.name.endsWith(suffix) ? release.name.slice(0, -suffix.length) : undefined;

export const auditTrailAdmissionGuard: StackPolicy = {
  kind: "stack",
  name: "audit-trail-admission-guard",
  control: "6.5-audit",
  enforcement: "mandatory",
  description:
    "Every cluster with an audit collector also has the fail-closed admission policies that let only the deploy identity, the GitOps controller and break-glass change the audit namespaces, and that hold collector pods to one read-only host directory.",
  remediation:
    "Keep components/cluster-access's ValidatingAdmissionPolicies ske-audit-trail-guard and ske-audit-collector-pod-shape, with failurePolicy Fail and a Deny binding.",
  validate: ({ resources }) => {
    const violations: Violation[] = [];
    for (const release of resources.filter(isAuditCollector)) {
      const cluster = clusterOf(release, "-audit-collector-vector");
      if (!cluster) {
        violations.push({
          resource: resourceId(release),
          message: `${release.name}: cannot tell which cluster this collector belongs to`,
        });
        continue;
      }
      for (const suffix of ["-audit-trail-guard", "-collector-pod-shape"]) {
        const name = `${cluster}${suffix}`;
        const policy = resources.find((r) => r.type === T.vap && r.name === name);
        const binding = resources.find((r) => r.type === T.vapBinding && r.name === name);
        if (!policy || !binding) {
          violations.push({
            resource: resourceId(release),
            message: `${cluster} has a collector but no admission policy and binding ${name}`,
          });
          continue;
        }
        if (at(policy.props, ["spec", "failurePolicy"]) !== "Fail")
          violations.push({ resource: resourceId(policy), message: `${name} must fail closed (failurePolicy Fail)` });
        const actions = at(binding.props, ["spec", "validationActions"]);
        if (!Array.isArray(actions) || actions.indexOf("Deny") < 0)
          violations.push({ resource: resourceId(binding), message: `${name} binding does not Deny` });
      }
    }
    return violations;
  },
};

const METADATA_CIDR = "169.254.169.254/32";

export const podsCannotReachMetadata: StackPolicy = {
  kind: "stack",
  name: "pods-cannot-reach-metadata",
  control: "6.5-audit",
  enforcement: "mandatory",
  description: `Every cluster with Cilium denies egress from all pods to the instance metadata service (${METADATA_CIDR}), whose user data holds the control plane's CA keys.`,
  remediation:
    "Keep components/cluster's CiliumClusterwideNetworkPolicy ske-deny-instance-metadata: empty endpointSelector, egressDeny toCIDR 169.254.169.254/32.",
  validate: ({ resources }) => {
    const violations: Violation[] = [];
    for (const release of resources.filter(isRelease("cilium"))) {
      const cluster = clusterOf(release, "-cilium");
      const policy = resources.find(
        (r) => r.type === T.ciliumClusterwidePolicy && r.name === `${cluster}-deny-instance-metadata`,
      );
      if (!policy) {
        violations.push({
          resource: resourceId(release),
          message: `${cluster}: pods can reach ${METADATA_CIDR}; no deny policy`,
        });
        continue;
      }
      const selector = at(policy.props, ["spec", "endpointSelector"]);
      const everyPod = typeof selector === "object" && selector !== null && Object.keys(selector).length === 0;
      const denies = ((at(policy.props, ["spec", "egressDeny"]) as { toCIDR?: string[] }[] | undefined) ?? []).some(
        (r) => (r.toCIDR ?? []).indexOf(METADATA_CIDR) >= 0,
      );
      if (!everyPod)
        violations.push({ resource: resourceId(policy), message: `${policy.name} does not select every pod` });
      if (!denies)
        violations.push({
          resource: resourceId(policy),
          message: `${policy.name} does not deny egress to ${METADATA_CIDR}`,
        });
    }
    return violations;
  },
};

/** Kinds whose pod template the program could create directly (none today; the policy keeps it so). */
const WORKLOAD_TYPES: Record<string, string[]> = {
  "kubernetes:core/v1:Pod": ["spec"],
  "kubernetes:apps/v1:Deployment": ["spec", "template", "spec"],
  "kubernetes:apps/v1:DaemonSet": ["spec", "template", "spec"],
  "kubernetes:apps/v1:StatefulSet": ["spec", "template", "spec"],
  "kubernetes:batch/v1:Job": ["spec", "template", "spec"],
  "kubernetes:batch/v1:CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
};

export const workloadsSetResources: ResourcePolicy = {
  kind: "resource",
  name: "releases-set-resources",
  control: "6.5-audit",
  enforcement: "mandatory",
  description: `Every Helm release and workload the program creates sets CPU and memory requests and limits (charts planned: ${Object.keys(CHART_RESOURCES).join(", ")}), so no component starves the control-plane nodes the apiserver and its audit log run on.`,
  remediation: "Add the chart's workloads to plan/workload-resources.ts and pass its values through withResources().",
  appliesTo: (r) => r.type === T.helmRelease || r.type in WORKLOAD_TYPES,
  validate: (r) => {
    if (r.type === T.helmRelease) {
      if (isOpaque(r.props.values)) return [`the values of ${r.name} are not known at preview`];
      return resourceProblems(String(r.props.chart), r.props.values).map((p) => `${r.name}: ${p}`);
    }
    const podSpec = at(r.props, WORKLOAD_TYPES[r.type]!);
    const containers = [
      ...((at(podSpec, ["containers"]) as unknown[] | undefined) ?? []),
      ...((at(podSpec, ["initContainers"]) as unknown[] | undefined) ?? []),
    ] as { name?: string; resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[];
    return containers
      .filter(
        (c) =>
          !c.resources?.requests?.cpu ||
          !c.resources?.requests?.memory ||
          !c.resources?.limits?.cpu ||
          !c.resources?.limits?.memory,
      )
      .map((c) => `${r.name}: container ${c.name} lacks CPU/memory requests or limits`);
  },
};

export const LEAST_PRIVILEGE_POLICIES = [
  platformNotClusterAdmin,
  collectorLeastPrivilege,
  auditTrailAdmissionGuard,
  podsCannotReachMetadata,
  workloadsSetResources,
] as const;
