/**
 * compliance.md's "Central view" section: what is collected, where it is
 * kept, for how long, and who can read it, read back from the resources the
 * program registers (never from config), plus the policies that hold it.
 */
import { at, type PolicyResource } from "../policy/model";

const esc = (text: string) => text.replace(/\|/g, "\\|");
const helm = (resources: readonly PolicyResource[], chart: string) =>
  resources.filter((r) => r.type === "kubernetes:helm.sh/v3:Release" && r.props.chart === chart);
const hours = (period: unknown) => {
  const m = typeof period === "string" ? /^(\d+)h$/.exec(period) : null;
  return m ? `${Number(m[1]) / 24} days` : `unknown (${String(period)})`;
};

export function centralViewLines(resources: readonly PolicyResource[], policyRows: readonly string[]): string[] {
  const loki = helm(resources, "loki")[0];
  const store = helm(resources, "victoria-metrics-single")[0];
  const grafana = helm(resources, "grafana")[0];
  const agents = helm(resources, "victoria-metrics-agent");
  const platformLogs = helm(resources, "vector").filter((r) => r.props.name === "platform-logs");
  const auditCollectors = helm(resources, "vector").filter((r) => r.props.name !== "platform-logs");
  const roles = grafana
    ? String(at(grafana.props, ["values", "grafana.ini", "auth.generic_oauth", "role_attribute_path"]))
    : "";
  const readers = grafana
    ? `Grafana only (SSO through Zitadel): platform group Admin${/amr/.test(roles) ? " with MFA" : ""}, auditors Viewer; a NetworkPolicy keeps every other pod out`
    : "no Grafana in this stack";
  const lokiWhere = loki ? `Loki \`${String(loki.props.namespace)}\` in the ops cluster` : "no Loki in this stack";
  const rows: string[][] = [
    [
      `API server audit events (${auditCollectors.length} collectors)`,
      `${lokiWhere}, tenant \`audit\`; object-lock archive`,
      loki
        ? hours(at(loki.props, ["values", "loki", "limits_config", "retention_period"])) +
          " in Loki; the archive's lock period (6.5 section)"
        : "-",
      readers + "; append-only: no API deletion, no other writer",
    ],
    [
      `Platform logs: pods of the platform namespaces (${platformLogs.length} collectors)`,
      `${lokiWhere}, tenant \`platform\``,
      loki
        ? hours(at(loki.props, ["values", "loki", "runtimeConfig", "overrides", "platform", "retention_period"]))
        : "-",
      readers,
    ],
    [
      `Metrics: API server, etcd, kubelets, Argo CD sync (${agents.length} agents)`,
      store
        ? `VictoriaMetrics \`${String(store.props.namespace)}\` in the ops cluster`
        : "no metrics store in this stack",
      store ? String(at(store.props, ["values", "server", "retentionPeriod"])).replace(/d$/, " days") : "-",
      readers,
    ],
  ];
  const groups = grafana
    ? ((at(grafana.props, ["values", "alerting", "rules.yaml", "groups"]) as
        { rules?: { title?: string; labels?: { area?: string } }[] }[] | undefined) ?? [])
    : [];
  const alerts = groups.flatMap((g) => g.rules ?? []).map((r) => `${r.title} (${r.labels?.area})`);
  return [
    "## Central view",
    "",
    "What the ops cluster collects from every cluster of this environment, where it is kept, for how long and who can read it. Collectors outside the ops cluster push through its HAProxy pair, each with its own credential, to push-only gateways that speak only TLS (certificates from the environment's ingest CA, which every collector verifies).",
    "",
    "| what | where | retention | who can read it |",
    "| --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
    "",
    `Alert rules: ${alerts.length ? alerts.map(esc).join("; ") : "none"}.`,
    "",
    "Policies:",
    "",
    ...policyRows,
    "",
  ];
}
