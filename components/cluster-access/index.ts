import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AUDITOR_RULES, readOnlyRuleProblems, type AccessGroups, type PolicyRule } from "./rules";

export { AUDITOR_RULES, FORBIDDEN_RESOURCES, READ_VERBS, kubernetesGroups, readOnlyRuleProblems } from "./rules";
export type { AccessGroups, PolicyRule } from "./rules";

export const AUDITOR_CLUSTER_ROLE = "ske-auditor-read-only";

export interface ClusterAccessArgs {
  /** Cluster name, e.g. `production-osl2-mgmt`; prefixes the Pulumi resource names. */
  clusterName: string;
  /** OIDC groups exactly as the apiserver sees them (prefix included). */
  groups: AccessGroups;
  /** Rules of the auditor role; the vetted table unless a test passes another. */
  auditorRules?: readonly PolicyRule[];
  provider: k8s.Provider;
}

const groupSubject = (name: string) => ({ kind: "Group", apiGroup: "rbac.authorization.k8s.io", name });

/**
 * Human access to one cluster through Zitadel groups:
 * - auditors get the read-only role (no Secrets, no exec/attach/port-forward/
 *   proxy/token requests, no write verb);
 * - the platform team gets the built-in `admin` role cluster-wide, plus the
 *   read-only role for cluster-scoped state. `admin`, not `cluster-admin`:
 *   people operate workloads in every namespace, while cluster-scoped changes
 *   (CRDs, webhooks, cluster RBAC, nodes) go through Argo CD from Git, where
 *   they are reviewed. The program-signed admin kubeconfig is the break-glass.
 */
export class ClusterAccess extends pulumi.ComponentResource {
  readonly auditorRole: k8s.rbac.v1.ClusterRole;

  constructor(name: string, args: ClusterAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:access:ClusterAccess", name, {}, opts);
    const rules = args.auditorRules ?? AUDITOR_RULES;
    const problems = readOnlyRuleProblems(rules);
    if (problems.length > 0) {
      throw new Error(`${args.clusterName}: the auditor role must stay read-only:\n  - ${problems.join("\n  - ")}`);
    }
    const child = { parent: this, provider: args.provider };
    const labels = { "app.kubernetes.io/managed-by": "ske-platform", "app.kubernetes.io/part-of": "cluster-access" };

    this.auditorRole = new k8s.rbac.v1.ClusterRole(`${args.clusterName}-auditor-role`, {
      metadata: { name: AUDITOR_CLUSTER_ROLE, labels },
      rules: rules.map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] })),
    }, child);

    const bind = (key: string, bindingName: string, role: pulumi.Input<string>, group: string) =>
      new k8s.rbac.v1.ClusterRoleBinding(`${args.clusterName}-${key}`, {
        metadata: { name: bindingName, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
        subjects: [groupSubject(group)],
      }, child);

    bind("auditors-read-only", "ske-auditors-read-only", this.auditorRole.metadata.name, args.groups.auditors);
    bind("platform-admin", "ske-platform-admin", "admin", args.groups.platform);
    bind("platform-read-only", "ske-platform-read-only", this.auditorRole.metadata.name, args.groups.platform);

    this.registerOutputs({});
  }
}
