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
  /** Platform admins get role:admin only with a second factor (zitadel.requireMfa). */
  requireMfa: boolean;
}

/**
 * Argo CD's RBAC cannot combine two claims ("in the platform group AND signed
 * in with MFA"). Zitadel therefore issues a second claim, listing the user's
 * groups with this prefix only when the session's `amr` contains `mfa` (what
 * Zitadel must emit: docs/decisions/argocd-grafana-mfa.md); role:admin is
 * granted on that claim alone, so without it nobody is admin.
 */
export const MFA_GROUPS_CLAIM = "ske_mfa_groups";
export const MFA_GROUP_PREFIX = "mfa:";

/**
 * The auditors' Argo CD role. The built-in role:readonly includes
 * `logs, get`, and workload logs can carry secrets; this role reads
 * applications, projects, clusters and repositories, and nothing that
 * streams logs or opens a shell (`logs`, `exec`).
 */
export const AUDITOR_ROLE = "role:ske-auditor";
export const AUDITOR_ROLE_GRANTS: readonly { resource: string; object: string }[] = [
  { resource: "applications", object: "*/*" },
  { resource: "applicationsets", object: "*/*" },
  { resource: "projects", object: "*" },
  { resource: "clusters", object: "*" },
  { resource: "repositories", object: "*" },
];

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
  /** Sync state as metrics (argocd_app_info) for the central view's out-of-sync alert. */
  controller: { metrics: { enabled: true } };
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
    requestedIDTokenClaims: {
      [sso.groupsClaim]: { essential: true },
      ...(sso.requireMfa ? { [MFA_GROUPS_CLAIM]: { essential: true } } : {}),
    },
  };
}

/** The subject Argo CD must see before it grants role:admin. */
export function platformAdminSubject(sso: Pick<ArgoCdSsoSettings, "platformGroup" | "requireMfa">): string {
  return sso.requireMfa ? `${MFA_GROUP_PREFIX}${sso.platformGroup}` : sso.platformGroup;
}

/** Claims Argo CD's RBAC matches `g` subjects against. */
export function rbacScopes(sso: Pick<ArgoCdSsoSettings, "groupsClaim" | "requireMfa">): string {
  return `[${[sso.groupsClaim, ...(sso.requireMfa ? [MFA_GROUPS_CLAIM] : [])].join(", ")}]`;
}

/**
 * Default deny (`policy.default` empty): a signed-in user outside both groups
 * sees nothing. Group lines only; no user is named.
 */
export function rbacPolicyLines(
  sso: Pick<ArgoCdSsoSettings, "platformGroup" | "auditorGroup" | "requireMfa">,
): string[] {
  return [
    ...AUDITOR_ROLE_GRANTS.map((g) => `p, ${AUDITOR_ROLE}, ${g.resource}, get, ${g.object}, allow`),
    `g, ${platformAdminSubject(sso)}, role:admin`,
    `g, ${sso.auditorGroup}, ${AUDITOR_ROLE}`,
  ];
}

export function argoCdValues(input: ArgoCdValuesInput): ArgoCdValues {
  return {
    // Dex would be a second login path; Argo CD talks OIDC to Zitadel directly.
    dex: { enabled: false },
    controller: { metrics: { enabled: true } },
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
        scopes: rbacScopes(input.sso),
      },
    },
  };
}
