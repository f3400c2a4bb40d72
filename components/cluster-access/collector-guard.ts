/**
 * The admission guard around the audit trail inside a cluster: a
 * ValidatingAdmissionPolicy that refuses any change to the audit namespaces,
 * or to what runs and is configured in them, unless the request comes from
 * the deploy identity, the GitOps controller, a Kubernetes controller that
 * keeps namespaces working, or the break-glass group. Pure data.
 *
 * RBAC already keeps the platform group out of these namespaces; this guard
 * also holds when someone later grants a wider role by mistake, because
 * admission runs after RBAC for every identity, `system:masters` included.
 * ValidatingAdmissionPolicies do not apply to policy objects themselves
 * (Kubernetes exempts them to avoid lock-outs), so the everyday role has no
 * write access to admissionregistration.k8s.io at all (rules.ts).
 */

export const COLLECTOR_GUARD_NAME = "ske-audit-trail-guard";

/** Namespace-scoped kinds whose change would stop, redirect or read the collector. */
export const GUARDED_RESOURCES: readonly { apiGroup: string; resources: string[] }[] = [
  { apiGroup: "apps", resources: ["daemonsets", "deployments", "statefulsets", "replicasets"] },
  { apiGroup: "", resources: ["secrets", "configmaps", "serviceaccounts", "services", "persistentvolumeclaims"] },
  { apiGroup: "rbac.authorization.k8s.io", resources: ["roles", "rolebindings"] },
  { apiGroup: "networking.k8s.io", resources: ["networkpolicies"] },
  { apiGroup: "cilium.io", resources: ["ciliumnetworkpolicies"] },
];

/** Entering a collector pod: exec, attach and port-forward are CONNECT requests. */
export const GUARDED_CONNECT = ["pods/exec", "pods/attach", "pods/portforward"] as const;
/** A debug container is a shell in the pod too, added by an UPDATE of this subresource. */
export const GUARDED_EPHEMERAL = "pods/ephemeralcontainers";

/**
 * Kubernetes' own controllers that write into every namespace: without them a
 * namespace cannot be created (default service account, root CA ConfigMap) or
 * deleted (namespace controller, garbage collector). Talos runs the
 * controller-manager with per-controller service accounts, so these are their
 * names.
 */
export const NAMESPACE_CONTROLLERS = [
  "system:serviceaccount:kube-system:namespace-controller",
  "system:serviceaccount:kube-system:generic-garbage-collector",
  "system:serviceaccount:kube-system:service-account-controller",
  "system:serviceaccount:kube-system:root-ca-cert-publisher",
] as const;

export interface CollectorGuardInput {
  /** The audit namespaces (collector, and Loki in the ops cluster). */
  namespaces: readonly string[];
  /** Groups that may change them: the program's deploy identity and break-glass. */
  allowedGroups: readonly string[];
  /** Users (service accounts) that may change them: the GitOps controller. */
  allowedUsers: readonly string[];
}

const celList = (values: readonly string[]) => `[${values.map((v) => JSON.stringify(v)).join(", ")}]`;

/**
 * True when the request's identity may change the audit trail. CONNECT
 * (exec/attach/port-forward) and debug containers are refused to everyone but
 * break-glass and the deploy identity: neither the GitOps controller nor a
 * namespace controller ever needs a shell in the collector.
 */
export function collectorGuardExpression(input: CollectorGuardInput): string {
  const groups = celList(input.allowedGroups);
  const users = celList([...input.allowedUsers, ...NAMESPACE_CONTROLLERS]);
  return [
    `request.userInfo.groups.exists(g, g in ${groups})`,
    `|| (request.operation != 'CONNECT' && request.subResource != 'ephemeralcontainers' && request.userInfo.username in ${users})`,
  ].join(" ");
}

export function collectorGuardProblems(input: CollectorGuardInput): string[] {
  const problems: string[] = [];
  if (input.namespaces.length === 0) problems.push("no audit namespace to guard");
  if (input.allowedGroups.length === 0)
    problems.push(
      "no group may change the audit trail, not even the deploy identity: the program could not update its own collector",
    );
  for (const value of [...input.allowedGroups, ...input.allowedUsers]) {
    if (
      value.includes("*") ||
      value === "" ||
      value === "system:authenticated" ||
      value.startsWith("system:serviceaccounts")
    ) {
      problems.push(`"${value}" names more than one identity`);
    }
  }
  return problems;
}

export function collectorGuardPolicy(input: CollectorGuardInput) {
  const problems = collectorGuardProblems(input);
  if (problems.length > 0) throw new Error(`audit-trail guard:\n  - ${problems.join("\n  - ")}`);
  return {
    // Fail closed: if the policy cannot be evaluated, nobody changes the audit trail.
    failurePolicy: "Fail",
    matchConstraints: {
      resourceRules: [
        ...GUARDED_RESOURCES.map((r) => ({
          apiGroups: [r.apiGroup],
          apiVersions: ["*"],
          resources: [...r.resources],
          operations: ["CREATE", "UPDATE", "DELETE"],
        })),
        { apiGroups: [""], apiVersions: ["v1"], resources: [...GUARDED_CONNECT], operations: ["CONNECT"] },
        { apiGroups: [""], apiVersions: ["v1"], resources: [GUARDED_EPHEMERAL], operations: ["UPDATE"] },
        // The namespace object itself: deleting it takes the collector with it.
        { apiGroups: [""], apiVersions: ["v1"], resources: ["namespaces"], operations: ["UPDATE", "DELETE"] },
      ],
    },
    validations: [
      {
        expression: collectorGuardExpression(input),
        message:
          "the audit trail is changed only by the deploy identity, the GitOps controller or the break-glass group",
        reason: "Forbidden",
      },
    ],
  };
}

export function collectorGuardBinding(input: Pick<CollectorGuardInput, "namespaces">) {
  return {
    policyName: COLLECTOR_GUARD_NAME,
    validationActions: ["Deny", "Audit"],
    matchResources: {
      // For a Namespace object the selector is matched against the namespace itself.
      namespaceSelector: {
        matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: [...input.namespaces] }],
      },
    },
  };
}

export const COLLECTOR_POD_SHAPE_NAME = "ske-audit-collector-pod-shape";

/** `path` is set and true; every step is tested with has(), since CEL errors on a missing parent. */
const flag = (path: string) => {
  const parts = path.split(".");
  const present = parts.slice(1).map((_, i) => `has(${parts.slice(0, i + 2).join(".")})`);
  return `(${[...present, `${path} == true`].join(" && ")})`;
};

/**
 * What a pod in the collector's namespace may be. That namespace enforces
 * the `privileged` Pod Security level (baseline forbids any hostPath), so
 * this policy says what Pod Security cannot: the only host directory is the
 * apiserver's audit log, mounted read-only, by a non-root container with no
 * capability, no privilege escalation, a read-only root filesystem and no host
 * namespaces. It applies to every identity, the DaemonSet controller included.
 */
export function collectorPodShapePolicy(auditLogDir: string) {
  const sc = "c.securityContext";
  return {
    failurePolicy: "Fail",
    matchConstraints: {
      resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], operations: ["CREATE", "UPDATE"] }],
    },
    variables: [
      {
        name: "hostPathVolumes",
        expression: "has(object.spec.volumes) ? object.spec.volumes.filter(v, has(v.hostPath)) : []",
      },
      {
        name: "containers",
        expression: "object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])",
      },
    ],
    validations: [
      {
        expression: `variables.hostPathVolumes.all(v, v.hostPath.path == ${JSON.stringify(auditLogDir)})`,
        message: `the only host path a collector pod may mount is ${auditLogDir}`,
      },
      {
        expression:
          "variables.containers.all(c, !has(c.volumeMounts) || c.volumeMounts.all(m, !variables.hostPathVolumes.exists(v, v.name == m.name) || (has(m.readOnly) && m.readOnly == true)))",
        message: "host paths are mounted read-only",
      },
      {
        expression: `!${flag("object.spec.hostNetwork")} && !${flag("object.spec.hostPID")} && !${flag("object.spec.hostIPC")}`,
        message: "no host network, PID or IPC namespace",
      },
      {
        expression: `${flag("object.spec.securityContext.runAsNonRoot")} && variables.containers.all(c, !has(${sc}) || !has(${sc}.runAsUser) || ${sc}.runAsUser != 0)`,
        message: "collector pods run as non-root",
      },
      {
        expression: [
          `variables.containers.all(c, has(${sc})`,
          `has(${sc}.allowPrivilegeEscalation) && ${sc}.allowPrivilegeEscalation == false`,
          `!${flag(`${sc}.privileged`)}`,
          `${flag(`${sc}.readOnlyRootFilesystem`)}`,
          `has(${sc}.capabilities) && has(${sc}.capabilities.drop) && 'ALL' in ${sc}.capabilities.drop`,
          `(!has(${sc}.capabilities.add) || size(${sc}.capabilities.add) == 0))`,
        ].join(" && "),
        message:
          "every container drops all capabilities, cannot escalate, is not privileged and has a read-only root filesystem",
      },
    ],
  };
}

export function collectorPodShapeBinding(collectorNamespace: string) {
  return {
    policyName: COLLECTOR_POD_SHAPE_NAME,
    validationActions: ["Deny", "Audit"],
    matchResources: {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": collectorNamespace } },
    },
  };
}
