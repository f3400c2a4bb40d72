/**
 * What the GitOps layer hands ClusterAccess for one cluster: who works where,
 * which namespaces are closed to the everyday role, who is break-glass, and
 * which identities may change the audit trail.
 */
import { ARGOCD_MANAGER } from "../components/argocd";
import { TALOS_AUDIT_LOG_DIR } from "../components/audit-trail";
import { ADMIN_GROUP } from "../components/cluster";
import { OPERATED_NAMESPACES, type AccessGroups, type ClusterAccessArgs } from "../components/cluster-access";
import type { PlatformConfig } from "../config/schema";
import type { ClusterPlan } from "../plan/platform-plan";

/** Argo CD's application controller, which deploys into the ops cluster itself. */
export const ARGOCD_CONTROLLER_ACCOUNT = "argocd-application-controller";

export function clusterAccessArgs(args: {
  cluster: ClusterPlan;
  config: PlatformConfig;
  groups: AccessGroups;
  /** The collector's namespace first, then Loki's. */
  auditNamespaces: readonly [string, ...string[]];
}): Omit<ClusterAccessArgs, "provider"> {
  const { cluster, config } = args;
  const gitopsController =
    cluster.role === "ops"
      ? `system:serviceaccount:${config.argocd.namespace}:${ARGOCD_CONTROLLER_ACCOUNT}`
      : `system:serviceaccount:kube-system:${ARGOCD_MANAGER}`;
  const breakGlassGroup = `${config.zitadel.groupsPrefix}${config.zitadel.breakGlassGroup}`;
  return {
    clusterName: cluster.name,
    groups: args.groups,
    operatedNamespaces: OPERATED_NAMESPACES[cluster.role],
    protectedNamespaces: [config.argocd.namespace, ...args.auditNamespaces],
    breakGlass: { group: breakGlassGroup, requireMfa: config.zitadel.requireMfa },
    auditTrailGuard: {
      namespaces: [...args.auditNamespaces],
      allowedGroups: [ADMIN_GROUP, breakGlassGroup],
      allowedUsers: [gitopsController],
    },
    collectorPods: { namespace: args.auditNamespaces[0], auditLogDir: TALOS_AUDIT_LOG_DIR },
  };
}
