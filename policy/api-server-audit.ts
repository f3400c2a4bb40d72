/** Audit policy and OIDC in the Talos machine config: every control-plane node carries the audit policy and identity provider the plan says. */
import { parse as parseYaml } from "yaml";
import {
  auditEvidence,
  auditEvidenceProblems,
  type AuditEvidence,
  type AuditPolicyDocument,
  type AuthenticationDocument,
} from "../plan/audit-evidence";
import { OPAQUE, at, type ResourcePolicy } from "./model";
import { appliedEvidence, appliedMachineConfig, isControlPlaneApplyStep, stepNode } from "./applied-evidence";

/** The audit policy and authentication config the machine config really carries, as documents. */
function auditDocuments(
  config: Record<string, unknown>,
): { policy: AuditPolicyDocument; authentication: AuthenticationDocument } | string {
  const policy = at(config, ["cluster", "apiServer", "auditPolicy"]);
  if (typeof policy !== "object" || policy === null) return "no apiserver audit policy (cluster.apiServer.auditPolicy)";
  const args = (at(config, ["cluster", "apiServer", "extraArgs"]) ?? {}) as Record<string, string>;
  if (args["oidc-issuer-url"]) {
    return {
      policy,
      authentication: {
        jwt: [
          {
            issuer: { url: args["oidc-issuer-url"], audiences: args["oidc-client-id"] ? [args["oidc-client-id"]] : [] },
          },
        ],
      },
    };
  }
  const file = args["authentication-config"];
  if (!file) return { policy, authentication: {} };
  const mounts = (at(config, ["cluster", "apiServer", "extraVolumes"]) ?? []) as {
    hostPath: string;
    mountPath: string;
  }[];
  const mount = mounts.find((m) => file.startsWith(`${m.mountPath}/`));
  const hostPath = mount ? `${mount.hostPath}${file.slice(mount.mountPath.length)}` : file;
  const files = (at(config, ["machine", "files"]) ?? []) as { path: string; content: string }[];
  const content = files.find((f) => f.path === hostPath)?.content;
  if (content === undefined) return `the authentication config ${file} is not written by the machine config`;
  return { policy, authentication: (parseYaml(content) ?? {}) as AuthenticationDocument };
}

export const apiServerAudit: ResourcePolicy = {
  kind: "resource",
  name: "apiserver-audit-and-oidc",
  control: "6.5-audit",
  enforcement: "mandatory",
  description:
    "Every control-plane machine config that the roll-out applies sets an apiserver audit policy at Metadata or above with RequestReceived omitted, and OIDC through the configured Zitadel issuer (with MFA when required). The evidence rides on each node's apply-config step, whose state changes only once the node runs the config; where the config is unknown at preview, that evidence is checked instead, and where it is known, the two must agree.",
  remediation:
    "Keep auditPolicy() and authenticationConfiguration() from components/talos/machine-config.ts in the control-plane config, and the evidence from plan/audit-evidence.ts on its apply-config step (components/cluster/rollout.ts).",
  appliesTo: (r) => isControlPlaneApplyStep(r),
  validate: (r, ctx) => {
    const expected = { issuer: ctx.oidc.issuer, requireMfa: ctx.oidc.requireMfa };
    const recorded = appliedEvidence(r);
    if (recorded === OPAQUE)
      return [`${stepNode(r)}: the audit evidence of its apply-config step is not known at preview`];
    const config = appliedMachineConfig(r);
    if (config instanceof Error)
      return [`${stepNode(r)}: the applied config is not a YAML machine config: ${config.message}`];
    if (config === OPAQUE) {
      // First preview of a cluster: the config waits for its secrets, the evidence does not.
      return auditEvidenceProblems(recorded, expected).map((p) => `${stepNode(r)}: ${p}`);
    }
    const documents = auditDocuments(config);
    if (typeof documents === "string") return [`${stepNode(r)}: ${documents}`];
    const actual = auditEvidence(documents.policy, documents.authentication);
    const drift = (Object.keys(actual) as (keyof AuditEvidence)[])
      .filter((key) => recorded[key] !== actual[key])
      .map(
        (key) =>
          `the apply-config step's evidence says ${key}=${recorded[key] ?? "(absent)"} but the machine config it applies has ${actual[key]}`,
      );
    return [...auditEvidenceProblems(actual, expected), ...drift].map((p) => `${stepNode(r)}: ${p}`);
  },
};
