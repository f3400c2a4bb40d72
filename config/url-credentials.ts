import type { z } from "zod";

/**
 * Query or fragment parameter names that carry a credential: API keys,
 * bearer and session tokens, pre-signed URL signatures. A URL lands in
 * values files, Helm release state, logs and compliance.md, all of which are
 * plain text; credentials travel as Pulumi secrets instead (for the SIEM:
 * audit.siem.tokenKey).
 */
const CREDENTIAL_PARAMETER =
  /(token|secret|passw|pwd|api[-_]?key|^key$|[-_]key$|auth|credential|signature|^sig$|session|jwt|bearer)/i;

/** Why a URL carries a credential, or undefined. */
export function urlCredentialProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined; // the URL schema itself reports what is malformed
  }
  if (url.username !== "" || url.password !== "") {
    return "a URL must not carry user:password@; give the credential as a Pulumi secret (pulumi config set --secret)";
  }
  const names = [...url.searchParams.keys(), ...new URLSearchParams(url.hash.replace(/^#/, "")).keys()];
  const credential = names.find((name) => CREDENTIAL_PARAMETER.test(name));
  if (credential !== undefined) {
    return `the URL parameter "${credential}" looks like a credential; a URL is stored and shown in plain text, so give the credential as a Pulumi secret instead`;
  }
  return undefined;
}

/** zod refinement for every URL in the schema. */
export function urlCredentialIssues(value: string, ctx: z.RefinementCtx): void {
  const problem = urlCredentialProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
}
