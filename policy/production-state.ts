/** Protection of production state: in production and staging, stateful resources carry protect and retainOnDelete. */
import { OPAQUE, at, typeChain, type PolicyResource, type ResourcePolicy } from "./model";
import { TYPES } from "./resource-types";
import { isTalosNode, machineConfigOf, isControlPlane } from "./talos-nodes";

/** Control-plane instances hold etcd; machine secrets are the cluster's identity. */
export function isStatefulResource(r: PolicyResource): boolean {
  if (typeChain(r).includes(TYPES.machineSecrets) && r.type !== TYPES.machineSecrets) return true;
  if (!isTalosNode(r)) return false;
  if (isControlPlane(r)) return true;
  const config = machineConfigOf(r);
  if (config !== OPAQUE && !(config instanceof Error)) return at(config, ["machine", "type"]) === "controlplane";
  return /-cp-\d+$/.test(r.name);
}

export const productionProtected: ResourcePolicy = {
  kind: "resource",
  name: "production-state-protected",
  control: "6.2",
  enforcement: "mandatory",
  description:
    "In production and staging, control-plane instances and Talos machine secrets carry protect and retainOnDelete, so no change can destroy them by accident.",
  remediation:
    "Set protection.statefulResources: true in Pulumi.production.yaml and Pulumi.staging.yaml; to retire a cluster, unprotect it in a reviewed change first.",
  appliesTo: (r, ctx) => (ctx.environment === "production" || ctx.environment === "staging") && isStatefulResource(r),
  validate: (r) => {
    // The pack cannot see retainOnDelete (see policy/pack-adapter.ts) and judges protect alone; synth judges both.
    const missing = (["protect", "retainOnDelete"] as const).filter(
      (o) => r.opts?.[o] !== true && !(r.unobservedOpts as readonly string[] | undefined)?.includes(o),
    );
    return missing.length ? [`${r.name} lacks ${missing.join(" and ")}`] : [];
  },
};
