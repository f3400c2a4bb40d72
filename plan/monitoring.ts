/**
 * The central view as plain data: what every cluster's metrics agent scrapes,
 * the alert rules (each naming the metrics its expression needs), their
 * routes, and the first dashboards. Components render it; tests read it.
 */

export interface MonitoredCluster {
  name: string;
  role: string;
  site: string;
}

/** Alert classes; each gets its own route in the notification policy tree. */
export type AlertArea = "etcd" | "apiserver" | "certificates" | "gitops" | "audit";

export interface AlertRule {
  uid: string;
  title: string;
  area: AlertArea;
  severity: "critical" | "warning";
  /**
   * Which store the rule asks: "metrics" (PromQL, a series only while firing)
   * or "audit-logs" (LogQL over the audit tenant, firing on silence).
   */
  source: "metrics" | "audit-logs";
  expr: string;
  /** The metric names (or, for logs, stream selectors) `expr` reads; the tests check each is in it and is collected. */
  metrics: string[];
  /** How long the condition must hold. */
  for: string;
  summary: string;
}

/** Scrape jobs of the agent; `job` labels the alert expressions match on. */
export const SCRAPE_JOBS = {
  apiserver: "apiserver",
  etcd: "etcd",
  kubelet: "kubelet",
  argocd: "argocd",
} as const;

/** Which metrics each job yields that the rules below read. */
export const JOB_METRICS: Readonly<Record<string, readonly string[]>> = {
  [SCRAPE_JOBS.apiserver]: ["up", "apiserver_request_total"],
  [SCRAPE_JOBS.etcd]: ["up", "etcd_server_has_leader"],
  [SCRAPE_JOBS.kubelet]: [
    "up",
    "kubelet_certificate_manager_client_ttl_seconds",
    "kubelet_certificate_manager_server_ttl_seconds",
  ],
  [SCRAPE_JOBS.argocd]: ["up", "argocd_app_info"],
};

/** The stream label the audit collector writes (components/audit-trail/collector-values.ts). */
export const AUDIT_STREAM_JOB = "kube-apiserver-audit";

/** Tenant (Loki X-Scope-OrgID) of the audit stream; platform logs live in PLATFORM_LOG_TENANT. */
export const AUDIT_LOG_TENANT = "audit";
export const PLATFORM_LOG_TENANT = "platform";

const CERT_WARNING_SECONDS = 14 * 24 * 3600;

const quote = (value: string) => JSON.stringify(value);

/**
 * The alert rules of one environment. The API server rule is written per
 * cluster: a cluster whose agent stops pushing has no `up` series at all, so
 * only `absent` over its own name notices it.
 */
export function alertRules(clusters: readonly MonitoredCluster[]): AlertRule[] {
  if (clusters.length === 0) throw new Error("alert rules need at least one cluster");
  const rules: AlertRule[] = [
    {
      uid: "etcd-quorum-at-risk",
      title: "etcd quorum at risk",
      area: "etcd",
      severity: "critical",
      source: "metrics",
      // With one member down, one more failure loses quorum.
      expr: `(count by (cluster) (up{job="${SCRAPE_JOBS.etcd}"} == 0) > 0) or (count by (cluster) (etcd_server_has_leader{job="${SCRAPE_JOBS.etcd}"} == 0) > 0)`,
      metrics: ["up", "etcd_server_has_leader"],
      for: "2m",
      summary: "An etcd member of {{ $labels.cluster }} is down or has no leader: one more failure loses quorum.",
    },
    ...clusters.map((cluster): AlertRule => ({
      uid: `apiserver-down-${cluster.name}`,
      title: `API server of ${cluster.name} down`,
      area: "apiserver",
      severity: "critical",
      source: "metrics",
      expr: `(sum(up{job="${SCRAPE_JOBS.apiserver}",cluster=${quote(cluster.name)}}) == 0) or absent(up{job="${SCRAPE_JOBS.apiserver}",cluster=${quote(cluster.name)}})`,
      metrics: ["up"],
      for: "5m",
      summary: `No API server of ${cluster.name} answers its scrape, or the cluster's metrics stopped arriving.`,
    })),
    {
      uid: "certificate-expiry",
      title: "Certificate expires within 14 days",
      area: "certificates",
      severity: "warning",
      source: "metrics",
      expr:
        `(min by (cluster, instance) (kubelet_certificate_manager_client_ttl_seconds) < ${CERT_WARNING_SECONDS}) or ` +
        `(min by (cluster, instance) (kubelet_certificate_manager_server_ttl_seconds) < ${CERT_WARNING_SECONDS})`,
      metrics: ["kubelet_certificate_manager_client_ttl_seconds", "kubelet_certificate_manager_server_ttl_seconds"],
      for: "1h",
      summary: "A kubelet certificate on {{ $labels.instance }} ({{ $labels.cluster }}) expires within 14 days.",
    },
    {
      uid: "argocd-out-of-sync",
      title: "Argo CD application out of sync",
      area: "gitops",
      severity: "warning",
      source: "metrics",
      expr: `max by (name, dest_server) (argocd_app_info{sync_status!="Synced"}) > 0`,
      metrics: ["argocd_app_info"],
      for: "30m",
      summary: "Argo CD application {{ $labels.name }} has not been in sync for 30 minutes.",
    },
    // Asked of Loki by Grafana, which already reads it: no new path to Loki.
    // Every apiserver writes audit events all the time (probes, controllers), so silence means the pipeline broke.
    ...clusters.map((cluster): AlertRule => ({
      uid: `audit-pipeline-stalled-${cluster.name}`,
      title: `Audit pipeline of ${cluster.name} stalled`,
      area: "audit",
      severity: "critical",
      source: "audit-logs",
      expr: `sum(count_over_time({job="${AUDIT_STREAM_JOB}", cluster=${quote(cluster.name)}}[15m]))`,
      metrics: [`job="${AUDIT_STREAM_JOB}"`],
      for: "15m",
      summary: `Loki received no audit events from ${cluster.name} for 15 minutes.`,
    })),
  ];
  return rules;
}

/**
 * Names of every metric a PromQL expression reads: what is left once strings,
 * label matchers, groupings, ranges, numbers, functions and keywords are gone.
 */
export function metricsIn(expr: string): string[] {
  const keywords = new Set([
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "or",
    "and",
    "unless",
    "offset",
  ]);
  const stripped = expr
    .replace(/"[^"]*"/g, "")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, " ")
    .replace(/\[[^\]]*\]/g, " ");
  const names = [...stripped.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)].map((m) => m[1]!);
  return [...new Set(names.filter((n) => !keywords.has(n)))].sort();
}
// Grafana's alerting provisioning for these rules lives in plan/monitoring-alerting.ts.
export {
  ALERT_FOLDER,
  ALERT_RECEIVER,
  GRAFANA_DEFAULT_RECEIVER,
  alertingProvisioning,
  type ContactPointInput,
} from "./monitoring-alerting";

export interface DashboardSpec {
  uid: string;
  title: string;
  panels: { title: string; expr: string }[];
}

/** The first dashboard set: cluster health, etcd, API server, Argo CD sync. */
export const DASHBOARDS: readonly DashboardSpec[] = [
  {
    uid: "ske-cluster-health",
    title: "Cluster health",
    panels: [
      { title: "Scrape targets up", expr: "sum by (cluster, job) (up)" },
      { title: "Kubelets up", expr: `sum by (cluster) (up{job="${SCRAPE_JOBS.kubelet}"})` },
    ],
  },
  {
    uid: "ske-etcd",
    title: "etcd",
    panels: [
      { title: "Members up", expr: `sum by (cluster) (up{job="${SCRAPE_JOBS.etcd}"})` },
      { title: "Has leader", expr: `min by (cluster) (etcd_server_has_leader)` },
    ],
  },
  {
    uid: "ske-apiserver",
    title: "API server",
    panels: [
      { title: "API servers up", expr: `sum by (cluster) (up{job="${SCRAPE_JOBS.apiserver}"})` },
      { title: "Requests by code", expr: `sum by (cluster, code) (rate(apiserver_request_total[5m]))` },
    ],
  },
  {
    uid: "ske-argocd-sync",
    title: "Argo CD sync",
    panels: [
      { title: "Applications by sync status", expr: "count by (sync_status) (argocd_app_info)" },
      { title: "Out of sync", expr: `argocd_app_info{sync_status!="Synced"}` },
    ],
  },
];

/** One dashboard as Grafana's JSON model, reading the metrics data source. */
export function dashboardJson(spec: DashboardSpec, datasourceUid: string): string {
  return JSON.stringify({
    uid: spec.uid,
    title: spec.title,
    editable: false,
    schemaVersion: 39,
    time: { from: "now-6h", to: "now" },
    panels: spec.panels.map((panel, i) => ({
      id: i + 1,
      type: "timeseries",
      title: panel.title,
      gridPos: { x: (i % 2) * 12, y: Math.floor(i / 2) * 8, w: 12, h: 8 },
      datasource: { type: "prometheus", uid: datasourceUid },
      targets: [{ refId: "A", expr: panel.expr, datasource: { type: "prometheus", uid: datasourceUid } }],
    })),
  });
}

/** Whole days as a VictoriaMetrics retention period. */
export function metricsRetention(days: number): string {
  if (!Number.isInteger(days) || days < 1)
    throw new Error(`monitoring.metricsRetentionDays must be a positive integer, got ${days}`);
  return `${days}d`;
}
