/**
 * Helm values of the argo-cd chart as typed data. Pure, so what reaches the
 * chart (no public service, no local admin, default-deny RBAC) is tested
 * without a cluster.
 */
import { stringify } from "yaml";

export interface ArgoCdSsoSettings {
  /** Zitadel issuer URL. */
  issuer: string;
  clientId: string;
  /** Name of the token claim that lists the user's groups. */
  groupsClaim: string;
  /** Group names as the token carries them (no apiserver prefix). */
  platformGroup: string;
  auditorGroup: string;
}

export interface ArgoCdValuesInput {
  sso: ArgoCdSsoSettings;
  /**
   * Where operators open the UI: through the jump host's tunnel, never a
   * public address. It is the OIDC redirect base, so it must match the
   * redirect URI registered in Zitadel.
   */
  url: string;
}

export interface ArgoCdValues {
  dex: { enabled: false };
  server: {
    service: { type: "ClusterIP" };
    ingress: { enabled: false };
  };
  configs: {
    cm: {
      url: string;
      "admin.enabled": false;
      "oidc.config": string;
      "users.anonymous.enabled": false;
    };
    rbac: {
      "policy.default": "";
      "policy.csv": string;
      scopes: string;
    };
  };
}

export const ARGOCD_SCOPES = ["openid", "profile", "email", "groups"] as const;

/** OIDC straight to Zitadel as a public client: PKCE, so no client secret exists to leak or rotate. */
export function oidcConfig(sso: ArgoCdSsoSettings): Record<string, unknown> {
  return {
    name: "Zitadel",
    issuer: sso.issuer,
    clientID: sso.clientId,
    enablePKCEAuthentication: true,
    requestedScopes: [...ARGOCD_SCOPES],
    requestedIDTokenClaims: { [sso.groupsClaim]: { essential: true } },
  };
}

/**
 * Default deny (`policy.default` empty): a signed-in user outside both groups
 * sees nothing. Group lines only; no user is named.
 */
export function rbacPolicyLines(sso: Pick<ArgoCdSsoSettings, "platformGroup" | "auditorGroup">): string[] {
  return [`g, ${sso.platformGroup}, role:admin`, `g, ${sso.auditorGroup}, role:readonly`];
}

export function argoCdValues(input: ArgoCdValuesInput): ArgoCdValues {
  return {
    // Dex would be a second login path; Argo CD talks OIDC to Zitadel directly.
    dex: { enabled: false },
    server: {
      // Reached through the jump host only: no LoadBalancer, NodePort or Ingress.
      service: { type: "ClusterIP" },
      ingress: { enabled: false },
    },
    configs: {
      cm: {
        url: input.url,
        "admin.enabled": false,
        "oidc.config": stringify(oidcConfig(input.sso)),
        "users.anonymous.enabled": false,
      },
      rbac: {
        "policy.default": "",
        "policy.csv": rbacPolicyLines(input.sso).join("\n") + "\n",
        scopes: `[${input.sso.groupsClaim}]`,
      },
    },
  };
}
