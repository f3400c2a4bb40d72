/**
 * Controls that production and staging may not switch off, judged on what
 * the stack really registers (and, where a resource cannot show it, on the
 * validated config in the context). The config refuses the same settings
 * (config/refusals.ts); these policies make compliance.md say FAIL, with the
 * control, if one slips past it, and they run at preview in the CrossGuard
 * pack too.
 */
import { MIN_PRODUCTION_LOCK_DAYS, isProductionGrade } from "../config/refusals";
import { appliedEvidence, isControlPlaneApplyStep, stepNode } from "./applied-evidence";
import {
  OPAQUE,
  at,
  isOpaque,
  typeChain,
  type PolicyContext,
  type PolicyResource,
  type StackPolicy,
  type Violation,
} from "./model";

/** The config refuses below this; docs/decisions/production-grade-controls.md says why 365. */
export const MIN_LOCK_DAYS = MIN_PRODUCTION_LOCK_DAYS;

/** What the context knows from the validated config about switchable controls. */
export interface ControlSettings {
  requireMfa: boolean;
  layers: Record<"clusters" | "bootstrap" | "kubernetes" | "github", boolean>;
  lockDays: number;
  /** Stack files that claim the repository settings, the stack being judged included. */
  repositorySettingsOwners: readonly string[];
}

const COMPONENTS = {
  cluster: "ske:cluster:Cluster",
  clusterAccess: "ske:access:ClusterAccess",
  collector: "ske:audit:AuditCollector",
  archive: "ske:audit:AuditArchiveBucket",
  argocd: "ske:gitops:ArgoCd",
  changeManagement: "ske:github:ChangeManagement",
  command: "command:local:Command",
  instance: "openstack:compute/instance:Instance",
  environment: "github:index/repositoryEnvironment:RepositoryEnvironment",
} as const;

const applies = (ctx: PolicyContext) => isProductionGrade(ctx.environment);
const ofType = (resources: readonly PolicyResource[], type: string) => resources.filter((r) => r.type === type);

/** Control-plane instances by cluster name (from the metadata the cluster component sets). */
function controlPlanesByCluster(resources: readonly PolicyResource[]): Map<string, PolicyResource[]> {
  const byCluster = new Map<string, PolicyResource[]>();
  for (const r of ofType(resources, COMPONENTS.instance)) {
    const cluster = at(r.props, ["metadata", "cluster"]);
    if (typeof cluster !== "string" || at(r.props, ["metadata", "node-role"]) !== "controlplane") continue;
    byCluster.set(cluster, [...(byCluster.get(cluster) ?? []), r]);
  }
  return byCluster;
}

export const mfaRequired: StackPolicy = {
  kind: "stack",
  name: "mfa-required-production-grade",
  appliesToStack: applies,
  control: "6.5-audit",
  enforcement: "mandatory",
  description:
    "In production and staging, MFA is required: the config says so and every control plane's OIDC config carries the rule that refuses a token without mfa in amr; a stack without control planes cannot show it.",
  remediation:
    "Set zitadel.requireMfa: true and keep layers.clusters on; the claim rule comes from authenticationConfiguration() in components/talos/machine-config.ts.",
  validate: ({ resources }, ctx) => {
    if (!applies(ctx)) return [];
    const violations: Violation[] = [];
    if (!ctx.oidc.requireMfa || ctx.controls?.requireMfa === false)
      violations.push({ message: `${ctx.environment} has zitadel.requireMfa switched off` });
    const planes = [...controlPlanesByCluster(resources).values()].flat();
    if (planes.length === 0)
      violations.push({ message: `${ctx.environment} registers no control plane, so no API server enforces MFA` });
    // The evidence of what each node runs sits on its apply-config step (policy/applied-evidence.ts).
    const steps = new Map(resources.filter(isControlPlaneApplyStep).map((s) => [stepNode(s), s]));
    for (const r of planes) {
      const step = steps.get(r.name);
      const evidence = step ? appliedEvidence(step) : {};
      const rule = evidence === OPAQUE ? OPAQUE : evidence["oidc-mfa-rule"];
      if (!step)
        violations.push({
          resource: `${r.type}::${r.name}`,
          message: `${r.name}: no apply-config step rolls its config out, so nothing shows what it runs`,
        });
      else if (isOpaque(rule))
        violations.push({
          resource: `${r.type}::${r.name}`,
          message: `${r.name}: its MFA evidence is not known at preview`,
        });
      else if (rule !== "true")
        violations.push({
          resource: `${r.type}::${r.name}`,
          message: `${r.name}: the API server accepts tokens without MFA (oidc-mfa-rule is ${String(rule)})`,
        });
    }
    return violations;
  },
};

export const controlsDeployed: StackPolicy = {
  kind: "stack",
  name: "controls-deployed-production-grade",
  appliesToStack: applies,
  control: "6.5-audit",
  enforcement: "mandatory",
  description:
    "In production and staging, every layer that carries a control is deployed: clusters with a bootstrap, auditor RBAC and an audit collector in each cluster, the object-lock archive, Argo CD, and the GitHub change-management settings.",
  remediation:
    "Keep every layers.* key on (the default) in Pulumi.production.yaml and Pulumi.staging.yaml; only test and lab variants switch layers off.",
  validate: ({ resources }, ctx) => {
    if (!applies(ctx)) return [];
    const violations: Violation[] = [];
    for (const [layer, on] of Object.entries(ctx.controls?.layers ?? {})) {
      if (!on) violations.push({ message: `layers.${layer} is switched off in ${ctx.environment}` });
    }
    const clusters = ofType(resources, COMPONENTS.cluster).map((r) => r.name);
    if (clusters.length === 0)
      violations.push({
        message: "no cluster is deployed, so no audit policy, OIDC or protected control plane exists",
      });
    const named = (type: string, cluster: string) =>
      ofType(resources, type).some((r) => r.name.startsWith(`${cluster}-`));
    const bootstrapped = (cluster: string) =>
      ofType(resources, COMPONENTS.command).some(
        (r) => r.name === `${cluster}-bootstrap` && typeChain(r).includes(COMPONENTS.cluster),
      );
    for (const cluster of clusters) {
      if (!bootstrapped(cluster))
        violations.push({ message: `${cluster} is never bootstrapped (layers.bootstrap off?)` });
      if (!named(COMPONENTS.clusterAccess, cluster))
        violations.push({ message: `${cluster} has no auditor and platform RBAC (components/cluster-access)` });
      if (!named(COMPONENTS.collector, cluster))
        violations.push({ message: `${cluster} ships no audit log (no audit collector)` });
    }
    if (ofType(resources, COMPONENTS.archive).length === 0)
      violations.push({ message: "no object-lock audit archive is deployed" });
    if (ofType(resources, COMPONENTS.argocd).length === 0) violations.push({ message: "Argo CD is not deployed" });
    if (
      ofType(resources, COMPONENTS.changeManagement).length === 0 ||
      ofType(resources, COMPONENTS.environment).length === 0
    ) {
      violations.push({
        message: "the GitHub change-management settings (deployment environments and their approvals) are not deployed",
      });
    }
    return violations;
  },
};

export const controlPlaneQuorum: StackPolicy = {
  kind: "stack",
  name: "control-plane-quorum-production-grade",
  appliesToStack: applies,
  control: "6.2",
  enforcement: "mandatory",
  description:
    "In production and staging, every cluster's control plane has an odd number of at least 3 nodes, so etcd keeps quorum when one fails and a change can be rolled node by node.",
  remediation: "Set nodes.controlPlane: 3 (or 5) for the ops cluster and every site.",
  validate: ({ resources }, ctx) => {
    if (!applies(ctx)) return [];
    const violations: Violation[] = [];
    for (const [cluster, planes] of controlPlanesByCluster(resources)) {
      if (planes.length < 3 || planes.length % 2 === 0) {
        violations.push({
          message: `${cluster} has ${planes.length} control-plane node${planes.length === 1 ? "" : "s"}; etcd needs an odd count of at least 3`,
        });
      }
    }
    return violations;
  },
};

/** The lock period the archive reconciler is told to set, as the command carries it. */
function reconcilerLockDays(r: PolicyResource): number | typeof OPAQUE | undefined {
  const env = r.props.environment;
  if (isOpaque(env)) return OPAQUE;
  const days = at(env, ["ARCHIVE_LOCK_DAYS"]);
  if (isOpaque(days)) return OPAQUE;
  return days === undefined ? undefined : Number(days);
}

export const longTermLock: StackPolicy = {
  kind: "stack",
  name: "audit-archive-long-term-lock",
  appliesToStack: applies,
  control: "6.5-audit",
  enforcement: "mandatory",
  description: `In production and staging, the audit archive's object lock holds every event for at least ${MIN_LOCK_DAYS} days (long-term secure retention).`,
  remediation: `Set audit.lockDays to at least ${MIN_LOCK_DAYS}; see docs/decisions/production-grade-controls.md.`,
  validate: ({ resources }, ctx) => {
    if (!applies(ctx)) return [];
    const violations: Violation[] = [];
    const configured = ctx.controls?.lockDays;
    if (configured !== undefined && configured < MIN_LOCK_DAYS)
      violations.push({ message: `audit.lockDays is ${configured}, below ${MIN_LOCK_DAYS}` });
    const reconcilers = ofType(resources, COMPONENTS.command).filter((r) => typeChain(r).includes(COMPONENTS.archive));
    for (const r of reconcilers) {
      const days = reconcilerLockDays(r);
      if (days === OPAQUE)
        violations.push({
          resource: `${r.type}::${r.name}`,
          message: `${r.name}: the lock period is not known at preview`,
        });
      else if (days !== undefined && !(days >= MIN_LOCK_DAYS))
        violations.push({
          resource: `${r.type}::${r.name}`,
          message: `${r.name} locks archived events for ${days} days, below ${MIN_LOCK_DAYS}`,
        });
    }
    return violations;
  },
};

export const singleSettingsOwner: StackPolicy = {
  kind: "stack",
  name: "repository-settings-single-owner",
  control: "6.2",
  enforcement: "mandatory",
  description:
    "Exactly one committed stack owns the repository settings (branch protection of main, team access, CODEOWNERS): with none main is unprotected, with two each deploy rewrites the other's.",
  remediation: "Set github.ownsRepositorySettings: true in Pulumi.production.yaml and false in every other stack file.",
  validate: (_stack, ctx) => {
    const owners = ctx.controls?.repositorySettingsOwners;
    if (owners === undefined || owners.length === 1) return [];
    return [
      {
        message:
          owners.length === 0
            ? "no stack owns the repository settings"
            : `${owners.join(", ")} all own the repository settings`,
      },
    ];
  },
};

export const CONTROL_POLICIES = [
  mfaRequired,
  controlsDeployed,
  controlPlaneQuorum,
  longTermLock,
  singleSettingsOwner,
] as const;
