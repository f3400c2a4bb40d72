/**
 * How the audit collectors authenticate to a SIEM without a credential in a
 * URL or in Helm values: the token is the Pulumi secret config key
 * `siemToken`; the program puts it into the collector's Kubernetes Secret,
 * and Vector reads it from there into one request header.
 */
import { z } from "zod";

/** An HTTP header name (RFC 9110 token characters). */
const headerName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { message: "expected an HTTP header name such as Authorization" });

export const siemAuthSchema = z.strictObject({
  header: headerName.default("Authorization"),
  /** Put before the token with one space, e.g. Bearer, or Splunk for a Splunk HEC. */
  scheme: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]*$/, { message: "expected a scheme such as Bearer or Splunk" })
    .optional(),
});

export type SiemAuth = z.infer<typeof siemAuthSchema>;

export const SIEM_TOKEN_KEY = "siemToken";

/** A credential key whose value reached the program as plain text. */
export function plainCredentialProblem(
  config: { siemToken?: string | undefined },
  raw: { secretKeys?: readonly string[] },
  prefix: string,
): { key: string; message: string } | undefined {
  if (config.siemToken === undefined || raw.secretKeys === undefined) return undefined;
  if (raw.secretKeys.includes(`${prefix}${SIEM_TOKEN_KEY}`)) return undefined;
  return {
    key: SIEM_TOKEN_KEY,
    message: "the SIEM token is stored in plain text; remove it and set it with pulumi config set --secret siemToken",
  };
}
