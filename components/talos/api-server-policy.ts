/**
 * What the kube-apiserver of every cluster is configured with beyond Talos's
 * defaults: the audit policy and the structured OIDC authentication. Pure,
 * so the API server tests and the machine configs use the same values.
 */
import { MIN_KUBERNETES_MINOR } from "../../plan/versions";

export interface OidcSettings {
  issuer: string;
  clientId: string;
  groupsClaim: string;
  groupsPrefix: string;
  /** Prefix of OIDC user names, so no token can name a `system:` user. */
  usernamePrefix: string;
  requireMfa: boolean;
}

export interface AuditRule {
  level: "None" | "Metadata" | "Request" | "RequestResponse";
  resources?: { group: string; resources: string[] }[];
}

export interface AuditPolicy {
  apiVersion: "audit.k8s.io/v1";
  kind: "Policy";
  omitStages: string[];
  rules: AuditRule[];
}

/** Where the authentication config lives on the node and in the API server pod. */
export const AUTHENTICATION_CONFIG = {
  hostDir: "/var/etc/ske/authentication",
  podDir: "/etc/ske/authentication",
  file: "authentication-config.yaml",
} as const;

function minorOf(version: string, key: string, major: number): number {
  const match = /^v?(\d+)\.(\d+)\./.exec(version);
  if (!match || Number(match[1]) !== major) throw new Error(`${key}: "${version}" is not a ${major}.x version`);
  return Number(match[2]);
}

/**
 * Audit everything at Metadata: who did what to which object, never the
 * payload. Secrets, ConfigMaps and TokenReviews get their own rule first so
 * that no later, louder rule can ever log their contents.
 */
export function auditPolicy(): AuditPolicy {
  return {
    apiVersion: "audit.k8s.io/v1",
    kind: "Policy",
    omitStages: ["RequestReceived"],
    rules: [
      {
        level: "Metadata",
        resources: [
          { group: "", resources: ["secrets", "configmaps"] },
          { group: "authentication.k8s.io", resources: ["tokenreviews"] },
        ],
      },
      { level: "Metadata" },
    ],
  };
}

/** The structured AuthenticationConfiguration API version the Kubernetes line serves. */
function authenticationApiVersion(kubernetesVersion: string): string {
  const minor = minorOf(kubernetesVersion, "clusters.kubernetesVersion", 1);
  if (minor < MIN_KUBERNETES_MINOR) {
    throw new Error(
      `clusters.kubernetesVersion: ${kubernetesVersion} predates structured authentication configuration (1.${MIN_KUBERNETES_MINOR})`,
    );
  }
  // Structured authentication is GA (v1) from 1.34; v1beta1 before.
  return minor >= 34 ? "apiserver.config.k8s.io/v1" : "apiserver.config.k8s.io/v1beta1";
}

/**
 * OIDC through Zitadel as a structured AuthenticationConfiguration (the
 * `--oidc-*` flags are deprecated and newer Talos rejects them). Zitadel puts
 * `mfa` into the ID token's `amr` claim when more than one factor (or a
 * passkey) was used; with requireMfa a token without it is refused outright.
 * No `anonymous` section: Talos still passes `--anonymous-auth`, and the API
 * server refuses both at once.
 */
export function authenticationConfiguration(oidc: OidcSettings, kubernetesVersion: string) {
  return {
    apiVersion: authenticationApiVersion(kubernetesVersion),
    kind: "AuthenticationConfiguration",
    jwt: [
      {
        issuer: { url: oidc.issuer, audiences: [oidc.clientId] },
        claimValidationRules: oidc.requireMfa
          ? [
              {
                expression: "has(claims.amr) && 'mfa' in claims.amr",
                message: "sign in to Zitadel with a second factor (amr must contain mfa)",
              },
            ]
          : [],
        claimMappings: {
          // `sub` is stable and never reassigned, unlike e-mail addresses.
          username: { claim: "sub", prefix: oidc.usernamePrefix },
          groups: { claim: oidc.groupsClaim, prefix: oidc.groupsPrefix },
        },
      },
    ],
  };
}
