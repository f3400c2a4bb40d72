/**
 * The operator's controls (issue 6) as pure policies over plain resource
 * records. The CrossGuard pack (policy/index.ts) and the offline synth
 * (synth/index.ts) both run exactly this list, in this order; each control's
 * policies live in their own file.
 */
import type { Policy } from "./model";
import { branchProtection } from "./branch-protection";
import { noForeignSupernet, productionIsolation, sourcesWithinPlan } from "./security-groups";
import { auditorReadOnly } from "./auditor-read-only";
import { appProjectDestinations, argoCdNotPublic } from "./argocd-exposure";
import { apiServerAudit } from "./api-server-audit";
import { productionProtected } from "./production-state";
import { noPlainCredentials } from "./plain-credentials";
import { testEnvironmentHygiene } from "./test-hygiene";
import { environmentGates } from "./environment-gates";
import { runnerGroupWorkflowsOnMain } from "./runner-group";
import { ACCESS_CONTROL_POLICIES } from "./access-controls";
import { AUDIT_TRAIL_POLICIES } from "./audit-trail-controls";
import { PROJECT_SEPARATION_POLICIES } from "./project-separation";
import { CONTROL_POLICIES } from "./controls-on";
import { LEAST_PRIVILEGE_POLICIES } from "./least-privilege";
import { BACKUP_POLICIES } from "./backup-controls";
import { CENTRAL_VIEW_POLICIES } from "./central-view";
import { CLUSTER_API_POLICIES } from "./cluster-api";

export { TYPES } from "./resource-types";
export { noForeignSupernet, productionIsolation, sourcesWithinPlan } from "./security-groups";
export { branchProtection, rulesetShortfalls } from "./branch-protection";
export { auditorReadOnly } from "./auditor-read-only";
export { appProjectDestinations, argoCdNotPublic } from "./argocd-exposure";
export { apiServerAudit } from "./api-server-audit";
export { isStatefulResource, productionProtected } from "./production-state";
export { noPlainCredentials } from "./plain-credentials";
export { testEnvironmentHygiene } from "./test-hygiene";

export const POLICIES: readonly Policy[] = [
  sourcesWithinPlan,
  appProjectDestinations,
  branchProtection,
  argoCdNotPublic,
  productionProtected,
  productionIsolation,
  apiServerAudit,
  auditorReadOnly,
  noPlainCredentials,
  noForeignSupernet,
  testEnvironmentHygiene,
  environmentGates,
  runnerGroupWorkflowsOnMain,
  ...ACCESS_CONTROL_POLICIES,
  ...PROJECT_SEPARATION_POLICIES,
  ...CONTROL_POLICIES,
  ...AUDIT_TRAIL_POLICIES,
  ...LEAST_PRIVILEGE_POLICIES,
  ...BACKUP_POLICIES,
  ...CLUSTER_API_POLICIES,
  ...CENTRAL_VIEW_POLICIES,
];
