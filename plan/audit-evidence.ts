/**
 * Preview-known evidence of a control plane's audit policy and OIDC set-up.
 *
 * The Talos machine config carries both, but it is built from machine
 * secrets that exist only after `pulumi up`, so on a cluster's first preview
 * a policy cannot read it. The cluster component therefore also records this
 * summary as instance metadata. The policies check the summary when the config
 * is unknown, and check that the two agree when it is known, so the summary
 * cannot drift from what the nodes really run.
 */

export const AUDIT_LEVELS = ["None", "Metadata", "Request", "RequestResponse"] as const;

export interface AuditPolicyDocument {
  omitStages?: readonly string[];
  rules?: readonly object[];
}

export interface AuthenticationDocument {
  jwt?: readonly {
    issuer?: { url?: string; audiences?: readonly string[] };
    claimValidationRules?: readonly { expression?: string }[];
  }[];
}

/** Flat string map: Nova metadata holds strings of at most 255 characters. */
export type AuditEvidence = Record<`audit-${string}` | `oidc-${string}`, string>;

export function auditEvidence(policy: AuditPolicyDocument, authentication: AuthenticationDocument): AuditEvidence {
  const rules = policy.rules ?? [];
  const levels = rules.map((rule) =>
    AUDIT_LEVELS.indexOf(String((rule as { level?: unknown }).level) as (typeof AUDIT_LEVELS)[number]),
  );
  const lowest =
    levels.length === 0 ? "none" : levels.some((l) => l < 0) ? "unknown" : AUDIT_LEVELS[Math.min(...levels)]!;
  const jwt = authentication.jwt ?? [];
  return {
    "audit-min-level": lowest,
    "audit-omit-stages": [...(policy.omitStages ?? [])].sort().join(","),
    // A rule with nothing but a level matches every request no earlier rule took.
    "audit-catch-all": String(rules.some((rule) => Object.keys(rule).every((key) => key === "level"))),
    "oidc-issuers": jwt.map((j) => j.issuer?.url ?? "").join(" "),
    "oidc-audiences": jwt.flatMap((j) => j.issuer?.audiences ?? []).join(","),
    "oidc-mfa-rule": String(
      jwt.some((j) => (j.claimValidationRules ?? []).some((r) => /'mfa' in claims\.amr/.test(r.expression ?? ""))),
    ),
  };
}

/** What is wrong with a control plane's evidence, judged against the configured issuer. */
export function auditEvidenceProblems(
  evidence: Partial<AuditEvidence>,
  expected: { issuer: string; requireMfa: boolean },
): string[] {
  const problems: string[] = [];
  const level = evidence["audit-min-level"];
  if (level === undefined) return ["no audit or OIDC evidence recorded"];
  if (AUDIT_LEVELS.indexOf(level as (typeof AUDIT_LEVELS)[number]) < 1)
    problems.push(`an audit rule logs below Metadata (lowest level: ${level})`);
  if (!(evidence["audit-omit-stages"] ?? "").split(",").includes("RequestReceived"))
    problems.push("the audit policy does not omit the RequestReceived stage");
  if (evidence["audit-catch-all"] !== "true")
    problems.push("the audit policy has no catch-all rule, so unmatched requests are not logged");
  const issuers = (evidence["oidc-issuers"] ?? "").split(" ").filter(Boolean);
  if (issuers.length === 0) problems.push("OIDC is not configured");
  else if (!issuers.includes(expected.issuer))
    problems.push(`the API server trusts ${issuers.join(", ")}, not ${expected.issuer}`);
  if (issuers.length > 0 && !evidence["oidc-audiences"]) problems.push("the OIDC issuer has no audience");
  if (expected.requireMfa && evidence["oidc-mfa-rule"] !== "true")
    problems.push("MFA is required but no claim validation rule checks it");
  return problems;
}
