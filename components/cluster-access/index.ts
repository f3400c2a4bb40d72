import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  AUDITOR_RULES,
  PLATFORM_READ_FORBIDDEN,
  PLATFORM_READ_RULES,
  PLATFORM_OPERATOR_RULES,
  operatedNamespaceProblems,
  platformRuleProblems,
  readOnlyRuleProblems,
  type AccessGroups,
  type PolicyRule,
} from "./rules";
import {
  COLLECTOR_GUARD_NAME,
  COLLECTOR_POD_SHAPE_NAME,
  collectorGuardBinding,
  collectorGuardPolicy,
  collectorPodShapeBinding,
  collectorPodShapePolicy,
  type CollectorGuardInput,
} from "./collector-guard";

export * from "./rules";
export * from "./collector-guard";

export const AUDITOR_CLUSTER_ROLE = "ske-auditor-read-only";
export const PLATFORM_OPERATOR_ROLE = "ske-platform-operator";
export const PLATFORM_READ_ROLE = "ske-platform-read-only";
export const BREAK_GLASS_BINDING = "ske-break-glass";

export interface ClusterAccessArgs {
  /** Cluster name, e.g. `production-osl2-mgmt`; prefixes the Pulumi resource names. */
  clusterName: string;
  /** OIDC groups exactly as the apiserver sees them (prefix included). */
  groups: AccessGroups;
  /** Rules of the auditor role; the vetted table unless a test passes another. */
  auditorRules?: readonly PolicyRule[];
  /** Rules of the platform group's everyday role; the vetted table unless a test passes another. */
  operatorRules?: readonly PolicyRule[];
  /** Namespaces the platform team operates in with kubectl; created here, labelled, and the only place the everyday role is bound. */
  operatedNamespaces: readonly string[];
  /** Argo CD's and the audit trail's namespaces: never operated, whatever the list above says. */
  protectedNamespaces: readonly string[];
  /**
   * The break-glass group as the apiserver sees it (prefix included), bound to
   * cluster-admin. Only with `requireMfa`: without the apiserver's MFA claim
   * rule a stolen password would be cluster-admin, so no binding is made.
   */
  breakGlass?: { group: string; requireMfa: boolean };
  /** Who may change the audit namespaces (ValidatingAdmissionPolicy); see collector-guard.ts. */
  auditTrailGuard: CollectorGuardInput;
  /** The collector's namespace and the one host directory its pods may mount. */
  collectorPods: { namespace: string; auditLogDir: string };
  provider: k8s.Provider;
}

const groupSubject = (name: string) => ({ kind: "Group", apiGroup: "rbac.authorization.k8s.io", name });

/**
 * Human access to one cluster through Zitadel groups:
 * - auditors get the read-only role (no Secrets, no exec/attach/port-forward/
 *   proxy/token requests, no write verb);
 * - the platform team gets a read-only role cluster-wide (the auditors' view
 *   plus workloads and ConfigMaps, still no Secrets), and its
 *   everyday operator role only in the namespaces it operates, by RoleBinding.
 *   Not the built-in `admin`: bound cluster-wide, `admin` reads Secrets in
 *   kube-system (the argocd-manager token, cluster-admin), execs into the audit
 *   collector and impersonates service accounts, so it was cluster-admin in
 *   two steps. Cluster-scoped changes go through Argo CD from Git;
 * - the break-glass group gets cluster-admin, behind MFA, for incidents
 *   (docs/operations/break-glass.md).
 */
export class ClusterAccess extends pulumi.ComponentResource {
  readonly auditorRole: k8s.rbac.v1.ClusterRole;

  constructor(name: string, args: ClusterAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:access:ClusterAccess", name, {}, opts);
    const rules = args.auditorRules ?? AUDITOR_RULES;
    const operatorRules = args.operatorRules ?? PLATFORM_OPERATOR_RULES;
    refuseUnsafeRoles(args, rules, operatorRules);
    const child = { parent: this, provider: args.provider };
    const labels = { "app.kubernetes.io/managed-by": "ske-platform", "app.kubernetes.io/part-of": "cluster-access" };

    this.auditorRole = buildClusterRole(`${args.clusterName}-auditor-role`, AUDITOR_CLUSTER_ROLE, rules, labels, child);

    // The role's name as the program gave it, not its output: an output is
    // unknown at preview, and the CrossGuard pack could then not follow the
    // binding to the role's rules. dependsOn keeps the order an output gave.
    const bind = (
      key: string,
      bindingName: string,
      role: k8s.rbac.v1.ClusterRole | undefined,
      roleName: string,
      group: string,
    ) =>
      new k8s.rbac.v1.ClusterRoleBinding(
        `${args.clusterName}-${key}`,
        {
          metadata: { name: bindingName, labels },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: roleName },
          subjects: [groupSubject(group)],
        },
        { ...child, dependsOn: role ? [role] : [] },
      );

    bind("auditors-read-only", "ske-auditors-read-only", this.auditorRole, AUDITOR_CLUSTER_ROLE, args.groups.auditors);
    const platformReadProblems = readOnlyRuleProblems(PLATFORM_READ_RULES, PLATFORM_READ_FORBIDDEN);
    if (platformReadProblems.length > 0) {
      throw new Error(
        `${args.clusterName}: the platform group's cluster-wide view must stay read-only:\n  - ${platformReadProblems.join("\n  - ")}`,
      );
    }
    const platformReadRole = buildClusterRole(
      `${args.clusterName}-platform-read-role`,
      PLATFORM_READ_ROLE,
      PLATFORM_READ_RULES,
      labels,
      child,
    );
    bind("platform-read-only", "ske-platform-read-only", platformReadRole, PLATFORM_READ_ROLE, args.groups.platform);

    buildOperatedNamespaces(args, operatorRules, labels, child);

    if (args.breakGlass?.requireMfa) {
      bind("break-glass", BREAK_GLASS_BINDING, undefined, "cluster-admin", args.breakGlass.group);
    }

    buildAuditTrailGuards(args, labels, child);

    this.registerOutputs({});
  }
}

/** Refuses an auditor role that can write or an everyday platform role that reaches cluster-admin. */
function refuseUnsafeRoles(
  args: ClusterAccessArgs,
  rules: readonly PolicyRule[],
  operatorRules: readonly PolicyRule[],
): void {
  const problems = readOnlyRuleProblems(rules);
  if (problems.length > 0) {
    throw new Error(`${args.clusterName}: the auditor role must stay read-only:\n  - ${problems.join("\n  - ")}`);
  }
  const operatorProblems = [
    ...platformRuleProblems(operatorRules),
    ...operatedNamespaceProblems(args.operatedNamespaces, args.protectedNamespaces),
  ];
  if (operatorProblems.length > 0) {
    throw new Error(
      `${args.clusterName}: the platform group's everyday role must not reach cluster-admin:\n  - ${operatorProblems.join("\n  - ")}`,
    );
  }
}

function buildClusterRole(
  resourceName: string,
  roleName: string,
  rules: readonly PolicyRule[],
  labels: Record<string, string>,
  opts: pulumi.CustomResourceOptions,
): k8s.rbac.v1.ClusterRole {
  return new k8s.rbac.v1.ClusterRole(
    resourceName,
    {
      metadata: { name: roleName, labels },
      rules: rules.map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] })),
    },
    opts,
  );
}

/** The everyday operator role, and each operated namespace with the platform group bound to it there only. */
function buildOperatedNamespaces(
  args: ClusterAccessArgs,
  operatorRules: readonly PolicyRule[],
  labels: Record<string, string>,
  child: pulumi.CustomResourceOptions,
): void {
  const operatorRole = buildClusterRole(
    `${args.clusterName}-platform-operator-role`,
    PLATFORM_OPERATOR_ROLE,
    operatorRules,
    labels,
    child,
  );
  for (const ns of args.operatedNamespaces) {
    const namespace = new k8s.core.v1.Namespace(
      `${args.clusterName}-operated-${ns}`,
      {
        // Baseline: controllers there need no host access; the audit collector's namespace is the only exception.
        metadata: { name: ns, labels: { ...labels, "pod-security.kubernetes.io/enforce": "baseline" } },
      },
      child,
    );
    new k8s.rbac.v1.RoleBinding(
      `${args.clusterName}-platform-operator-${ns}`,
      {
        metadata: { name: PLATFORM_OPERATOR_ROLE, namespace: namespace.metadata.name, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: operatorRole.metadata.name },
        subjects: [groupSubject(args.groups.platform)],
      },
      child,
    );
  }
}

/** The admission policies that guard the audit trail's namespaces and the collector's pod shape. */
function buildAuditTrailGuards(
  args: ClusterAccessArgs,
  labels: Record<string, string>,
  child: pulumi.CustomResourceOptions,
): void {
  const guard = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
    `${args.clusterName}-audit-trail-guard`,
    {
      metadata: { name: COLLECTOR_GUARD_NAME, labels },
      spec: collectorGuardPolicy(args.auditTrailGuard),
    },
    child,
  );
  new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
    `${args.clusterName}-audit-trail-guard`,
    {
      metadata: { name: COLLECTOR_GUARD_NAME, labels },
      spec: collectorGuardBinding(args.auditTrailGuard),
    },
    { ...child, dependsOn: [guard] },
  );
  const podShape = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
    `${args.clusterName}-collector-pod-shape`,
    {
      metadata: { name: COLLECTOR_POD_SHAPE_NAME, labels },
      spec: collectorPodShapePolicy(args.collectorPods.auditLogDir),
    },
    child,
  );
  new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
    `${args.clusterName}-collector-pod-shape`,
    {
      metadata: { name: COLLECTOR_POD_SHAPE_NAME, labels },
      spec: collectorPodShapeBinding(args.collectorPods.namespace),
    },
    { ...child, dependsOn: [podShape] },
  );
}
