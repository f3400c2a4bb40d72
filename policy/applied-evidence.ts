/**
 * Where the audit/OIDC evidence of a control plane lives: on its apply-config
 * roll-out step (components/cluster/rollout.ts), not on the instance. The
 * engine records a step's new inputs only when the step succeeded, i.e. once
 * the node runs that config and passed its health gate; instance metadata
 * would follow the desired config at once, whether or not a node ever
 * received it. compliance.md and the 6.5 policies read it from here.
 */
import { parse as parseYaml } from "yaml";
import type { AuditEvidence } from "../plan/audit-evidence";
import { OPAQUE, at, isOpaque, type PolicyResource } from "./model";

export const COMMAND_TYPE = "command:local:Command";
export const APPLY_STEP_SUFFIX = "-apply-config";
/** The step's environment keys (components/cluster/rollout-scripts.ts ROLLOUT_ENV). */
const ENV = { role: "SKE_NODE_ROLE", evidencePrefix: "SKE_EVIDENCE_", nodeName: "SKE_NODE_NAME" } as const;

export function isControlPlaneApplyStep(r: PolicyResource): boolean {
  return (
    r.type === COMMAND_TYPE &&
    r.name.endsWith(APPLY_STEP_SUFFIX) &&
    at(r.props, ["environment", ENV.role]) === "controlplane"
  );
}

/** The instance a step applies to, e.g. production-osl2-mgmt-cp-1. */
export function stepNode(r: PolicyResource): string {
  const named = at(r.props, ["environment", ENV.nodeName]);
  return typeof named === "string" ? named : r.name.slice(0, -APPLY_STEP_SUFFIX.length);
}

/** The evidence this step recorded as applied; OPAQUE where unknown (preview of a step whose inputs are computed). */
export function appliedEvidence(r: PolicyResource): Partial<AuditEvidence> | typeof OPAQUE {
  const environment = r.props.environment;
  if (isOpaque(environment)) return OPAQUE;
  // SKE_EVIDENCE_OIDC_ISSUERS → oidc-issuers (components/cluster/rollout-scripts.ts evidenceVariable).
  const fields = Object.entries((environment ?? {}) as Record<string, unknown>)
    .filter(([key]) => key.startsWith(ENV.evidencePrefix))
    .map(([key, value]) => [key.slice(ENV.evidencePrefix.length).toLowerCase().replace(/_/g, "-"), value] as const);
  if (fields.some(([, value]) => isOpaque(value))) return OPAQUE;
  return Object.fromEntries(fields.map(([k, v]) => [k, String(v)]));
}

const parsed = new Map<string, Record<string, unknown> | Error>();

/** The machine config this step applies, parsed; OPAQUE where synth or preview cannot read it. */
export function appliedMachineConfig(r: PolicyResource): Record<string, unknown> | Error | typeof OPAQUE {
  // stdin: base64 talosconfig, then base64 machine config (components/cluster/rollout-scripts.ts rolloutStdin).
  const stdin = r.props.stdin;
  if (typeof stdin !== "string" || isOpaque(stdin)) return OPAQUE;
  const text = Buffer.from(stdin.split("\n")[1] ?? "", "base64").toString("utf8");
  let config = parsed.get(text);
  if (config === undefined) {
    try {
      config = (parseYaml(text) ?? {}) as Record<string, unknown>;
    } catch (err) {
      config = err as Error;
    }
    parsed.set(text, config);
  }
  return config;
}

/** One line per control-plane node for compliance.md. */
export function evidenceSummary(r: PolicyResource): string {
  const evidence = appliedEvidence(r);
  if (evidence === OPAQUE) return "not known until the roll-out has run";
  const e = (key: keyof AuditEvidence) => evidence[key] || "none";
  return (
    `audit levels from ${e("audit-min-level")} up, omitStages ${e("audit-omit-stages")}, catch-all ${e("audit-catch-all")}; ` +
    `OIDC ${e("oidc-issuers")}${evidence["oidc-mfa-rule"] === "true" ? " with MFA claim rule" : ""}`
  );
}
