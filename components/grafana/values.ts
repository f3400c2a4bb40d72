/**
 * Helm values of the grafana chart as typed data. Pure: the role mapping that
 * decides who sees the audit logs is tested without a cluster.
 */

export interface GrafanaSsoSettings {
  issuer: string;
  clientId: string;
  groupsClaim: string;
  /** Group names as the token carries them (no apiserver prefix). */
  platformGroup: string;
  auditorGroup: string;
  /** Admin only when the ID token's `amr` says a second factor was used (zitadel.requireMfa). */
  requireMfa: boolean;
}

export interface GrafanaValuesInput {
  sso: GrafanaSsoSettings;
  /** Address operators use through the jump host; the OAuth redirect base. */
  rootUrl: string;
  /** In-cluster Loki query URL. */
  lokiUrl: string;
  /** The central view (components/monitoring): metrics source, dashboards, alerting. */
  centralView?: CentralViewInput;
}

export interface CentralViewInput {
  /** In-cluster query URL of the metrics store (Prometheus API). */
  metricsUrl: string;
  /** Dashboard JSON by file name, provisioned read-only. */
  dashboards: Record<string, string>;
  /** Grafana alerting provisioning files (plan/monitoring.ts alertingProvisioning). */
  alerting: Record<string, unknown>;
}

export const METRICS_DATASOURCE_UID = "metrics";
export const PLATFORM_LOGS_DATASOURCE_UID = "platform-logs";
/** Loki tenants (X-Scope-OrgID) behind each log data source; the gateways set the same ones. */
export const LOG_TENANTS = { audit: "audit", platform: "platform" } as const;
const DASHBOARD_FOLDER = "Platform";

const tenantHeader = (tenant: string) => ({
  jsonData: { httpHeaderName1: "X-Scope-OrgID" },
  secureJsonData: { httpHeaderValue1: tenant },
});

function centralViewValues(view: CentralViewInput, lokiUrl: string) {
  return {
    datasources: [
      {
        name: "Metrics",
        uid: METRICS_DATASOURCE_UID,
        type: "prometheus",
        access: "proxy",
        url: view.metricsUrl,
        isDefault: false,
        editable: false,
      },
      {
        name: "Platform logs",
        uid: PLATFORM_LOGS_DATASOURCE_UID,
        type: "loki",
        access: "proxy",
        url: lokiUrl,
        isDefault: false,
        editable: false,
        ...tenantHeader(LOG_TENANTS.platform),
      },
    ],
    values: {
      dashboardProviders: {
        "dashboardproviders.yaml": {
          apiVersion: 1,
          providers: [
            {
              name: "platform",
              orgId: 1,
              folder: DASHBOARD_FOLDER,
              type: "file",
              disableDeletion: true,
              editable: false,
              allowUiUpdates: false,
              options: { path: "/var/lib/grafana/dashboards/platform" },
            },
          ],
        },
      },
      dashboards: {
        platform: Object.fromEntries(Object.entries(view.dashboards).map(([name, json]) => [name, { json }])),
      },
      alerting: view.alerting,
    },
  };
}

/** JMESPath raw string literal: single quotes, with quotes and backslashes escaped. */
const rawString = (value: string) => `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
/** JMESPath quoted identifier, so a claim such as `urn:zitadel:...` works too. */
const identifier = (value: string) => JSON.stringify(value);

/**
 * Platform group → Admin, auditors → Viewer, anyone else → no role. With
 * `role_attribute_strict` a missing role refuses the login instead of falling
 * back to a default role.
 */
export function roleAttributePath(
  sso: Pick<GrafanaSsoSettings, "groupsClaim" | "platformGroup" | "auditorGroup" | "requireMfa">,
): string {
  const groups = `${identifier(sso.groupsClaim)}[*]`;
  // Zitadel puts `amr` in the ID token only; Grafana evaluates this path over the ID token's claims too.
  const mfa = sso.requireMfa ? ` && contains(not_null(amr, \`[]\`), 'mfa')` : "";
  return (
    `contains(${groups}, ${rawString(sso.platformGroup)})${mfa} && 'Admin' || ` +
    `contains(${groups}, ${rawString(sso.auditorGroup)}) && 'Viewer'`
  );
}

export function grafanaValues(input: GrafanaValuesInput) {
  const { sso } = input;
  const view = input.centralView ? centralViewValues(input.centralView, input.lokiUrl) : undefined;
  return {
    service: { type: "ClusterIP" as const },
    ingress: { enabled: false },
    "grafana.ini": {
      server: { root_url: input.rootUrl },
      // SSO is the only way in: no login form, no basic auth, no anonymous viewer.
      auth: { disable_login_form: true },
      "auth.basic": { enabled: false },
      "auth.anonymous": { enabled: false },
      "auth.generic_oauth": {
        enabled: true,
        name: "Zitadel",
        client_id: sso.clientId,
        // A public client with PKCE: there is no client secret to store.
        use_pkce: true,
        scopes: "openid profile email groups",
        auth_url: `${sso.issuer}/oauth/v2/authorize`,
        token_url: `${sso.issuer}/oauth/v2/token`,
        api_url: `${sso.issuer}/oidc/v1/userinfo`,
        groups_attribute_path: `${identifier(sso.groupsClaim)}`,
        allowed_groups: `${sso.platformGroup} ${sso.auditorGroup}`,
        role_attribute_path: roleAttributePath(sso),
        role_attribute_strict: true,
        allow_assign_grafana_admin: false,
        skip_org_role_sync: false,
        allow_sign_up: true,
      },
      users: { allow_sign_up: false },
    },
    datasources: {
      "datasources.yaml": {
        apiVersion: 1,
        datasources: [
          {
            name: "Loki",
            uid: "loki",
            type: "loki",
            access: "proxy",
            url: input.lokiUrl,
            isDefault: true,
            editable: false,
            ...tenantHeader(LOG_TENANTS.audit),
          },
          ...(view?.datasources ?? []),
        ],
      },
    },
    ...(view?.values ?? {}),
  };
}

export type GrafanaValues = ReturnType<typeof grafanaValues>;
