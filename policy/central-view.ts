/**
 * Controls of the central view (issue 13 items 4 and 5): the platform ingest
 * is authenticated and push-only like the audit ingest, the audit stream stays
 * a tenant of its own that nothing else writes and nobody deletes from, the
 * metrics retention is bounded, the alert classes exist, and the platform-log
 * collector reads only pod logs. Pure policies over resource records.
 */
import { gatewayConfigFacts } from "../components/audit-trail/ingest-gateway";
import { AUDIT_INGEST_PORT, PLATFORM_INGEST_PORT } from "../plan/security-rules";
import { at, isOpaque, resourceId, type ResourcePolicy, type StackPolicy, type Violation } from "./model";
import { vectorContainerProblems, vectorHostMountProblems } from "./vector-shape";
import { gatewayBaselineProblems } from "./gateway-config";
import {
  gatewaysOnNodePort,
  isPlatformLogCollector,
  release,
  servesTlsSecret,
  unverifiedPushers,
} from "./central-view-gateways";

const T = {
  configMap: "kubernetes:core/v1:ConfigMap",
  networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
} as const;

/** Kept here as data: a policy must not trust the component it checks. */
const AUDIT_TENANT = "audit";
const PLATFORM_TENANT = "platform";
const POD_LOG_DIR = "/var/log/pods";
const MAX_METRICS_RETENTION_DAYS = 400;
/** Alert classes issue 13 asks for, as the `area` label of the provisioned rules. */
export const REQUIRED_ALERT_AREAS = ["etcd", "apiserver", "certificates", "gitops", "audit"] as const;

export { isPlatformLogCollector };

export const platformIngestAuthenticated: StackPolicy = {
  kind: "stack",
  name: "metrics-ingest-authenticated",
  control: "6.5-audit",
  enforcement: "mandatory",
  description: `Metrics and platform logs enter the ops cluster only through the platform ingest (NodePort ${PLATFORM_INGEST_PORT}, forwarded by the ops HAProxy pair): an nginx gateway that speaks only TLS (a certificate from the ingest CA, in a Secret of its namespace) and whose every proxied location is POST-only behind basic auth (one credential per cluster), which refuses every other path, puts platform logs in Loki's "${PLATFORM_TENANT}" tenant and never in "${AUDIT_TENANT}"; every metrics agent and platform-log collector pushes over https and verifies the gateway against a CA file; a NetworkPolicy admits only the gateway and Grafana to the metrics store.`,
  remediation:
    "Keep components/monitoring MetricsStore's gateway (values.ts platformGatewayConfig, its TLS Secret) behind the NodePort and its victoria-metrics-ingress NetworkPolicy, and the ingest CA in agentValues/platformLogValues.",
  validate: ({ resources }) => {
    if (!resources.some((r) => release(r, "victoria-metrics-single"))) return [];
    const violations: Violation[] = [];
    const { service, configs } = gatewaysOnNodePort(PLATFORM_INGEST_PORT, resources);
    if (!service) return [{ message: `no Service serves the platform ingest NodePort ${PLATFORM_INGEST_PORT}` }];
    if (configs.length === 0)
      violations.push({
        resource: resourceId(service),
        message: `${service.name} forwards the platform ingest to pods that mount no gateway config, so pushes are not authenticated`,
      });
    for (const { deployment, config } of configs) {
      if (isOpaque(config) || typeof config !== "string") {
        violations.push({ resource: resourceId(deployment), message: "the gateway config is not readable" });
        continue;
      }
      const facts = gatewayConfigFacts(config);
      violations.push(...gatewayBaselineProblems(deployment, facts, "the platform ingest"));
      if (facts.tlsOnly && !servesTlsSecret(deployment, resources))
        violations.push({
          resource: resourceId(deployment),
          message: `${deployment.name} mounts no TLS Secret of its namespace for its certificate`,
        });
      for (const [path, tenant] of Object.entries(facts.tenants)) {
        if (tenant === AUDIT_TENANT)
          violations.push({
            resource: resourceId(deployment),
            message: `the platform ingest writes ${path} into the audit tenant`,
          });
        if (/loki/.test(path) && tenant !== PLATFORM_TENANT)
          violations.push({
            resource: resourceId(deployment),
            message: `the platform ingest passes ${path} to Loki without setting the "${PLATFORM_TENANT}" tenant`,
          });
      }
    }
    violations.push(...unverifiedPushers(resources));
    const guarded = resources.filter(
      (r) =>
        r.type === T.networkPolicy &&
        at(r.props, ["spec", "podSelector", "matchLabels", "app.kubernetes.io/name"]) === "victoria-metrics-single",
    );
    if (guarded.length === 0)
      violations.push({ message: "no NetworkPolicy limits who reaches the metrics store's API" });
    for (const np of guarded) {
      const rules = (at(np.props, ["spec", "ingress"]) as Record<string, unknown>[] | undefined) ?? [];
      if (rules.some((r) => !Array.isArray(r.from) || r.from.length === 0))
        violations.push({ resource: resourceId(np), message: `${np.name} admits every source` });
    }
    return violations;
  },
};

export const auditStreamSeparate: StackPolicy = {
  kind: "stack",
  name: "audit-stream-separate",
  control: "6.5-audit",
  enforcement: "mandatory",
  description: `Loki is multi-tenant and the tenant is set by the gateways, never by a collector: the audit ingest (NodePort ${AUDIT_INGEST_PORT}) writes only to "${AUDIT_TENANT}", nothing else writes there, deletion through Loki's API is disabled, and platform logs ("${PLATFORM_TENANT}") have a retention of their own.`,
  remediation:
    "Keep components/audit-trail lokiValues (auth_enabled, deletion_mode disabled, runtimeConfig overrides) and the X-Scope-OrgID line of nginxConfig.",
  validate: ({ resources }) => {
    const loki = resources.filter((r) => release(r, "loki"));
    if (loki.length === 0) return [];
    const violations: Violation[] = [];
    for (const r of loki) {
      const values = r.props.values;
      if (isOpaque(values)) {
        violations.push({ resource: resourceId(r), message: `the values of ${r.name} are not known at preview` });
        continue;
      }
      if (at(values, ["loki", "auth_enabled"]) !== true)
        violations.push({
          resource: resourceId(r),
          message: `${r.name}: auth_enabled must be true, or every writer shares the audit stream`,
        });
      if (at(values, ["loki", "limits_config", "deletion_mode"]) !== "disabled")
        violations.push({ resource: resourceId(r), message: `${r.name}: deletion through the API must be disabled` });
      if (
        resources.some((x) => release(x, "victoria-metrics-single")) &&
        at(values, ["loki", "runtimeConfig", "overrides", PLATFORM_TENANT, "retention_period"]) === undefined
      ) {
        violations.push({
          resource: resourceId(r),
          message: `${r.name}: platform logs have no retention of their own`,
        });
      }
    }
    const audit = gatewaysOnNodePort(AUDIT_INGEST_PORT, resources);
    for (const { deployment, config } of audit.configs) {
      if (typeof config !== "string") continue;
      for (const [path, tenant] of Object.entries(gatewayConfigFacts(config).tenants)) {
        if (tenant !== AUDIT_TENANT)
          violations.push({
            resource: resourceId(deployment),
            message: `the audit ingest passes ${path} to tenant ${tenant ?? "(none)"}, not "${AUDIT_TENANT}"`,
          });
      }
    }
    // Any other gateway config in the stack that names the audit tenant is a second writer.
    const auditConfigs = new Set(audit.configs.map((c) => c.config));
    for (const cm of resources.filter((r) => r.type === T.configMap)) {
      const config = at(cm.props, ["data", "nginx.conf"]);
      if (typeof config !== "string" || auditConfigs.has(config)) continue;
      if (Object.values(gatewayConfigFacts(config).tenants).includes(AUDIT_TENANT))
        violations.push({
          resource: resourceId(cm),
          message: `${cm.name} writes into the audit tenant besides the audit ingest`,
        });
    }
    return violations;
  },
};

export const metricsRetentionBounded: ResourcePolicy = {
  kind: "resource",
  name: "metrics-retention-bounded",
  control: "6.5-audit",
  enforcement: "mandatory",
  description: `The metrics store keeps samples for a bounded period in days (at most ${MAX_METRICS_RETENTION_DAYS}) on a persistent volume.`,
  remediation:
    "Set monitoring.metricsRetentionDays; components/monitoring metricsStoreValues writes server.retentionPeriod.",
  appliesTo: (r) => release(r, "victoria-metrics-single"),
  validate: (r) => {
    const values = r.props.values;
    if (isOpaque(values)) return [`the values of ${r.name} are not known at preview`];
    const period = at(values, ["server", "retentionPeriod"]);
    const m = typeof period === "string" ? /^(\d+)d$/.exec(period) : null;
    const problems: string[] = [];
    if (!m || Number(m[1]) < 1 || Number(m[1]) > MAX_METRICS_RETENTION_DAYS)
      problems.push(`${r.name}: server.retentionPeriod ${String(period)} is not a bounded number of days`);
    if (at(values, ["server", "persistentVolume", "enabled"]) !== true)
      problems.push(`${r.name}: the samples are not on a persistent volume`);
    return problems;
  },
};

export const centralViewAlerts: StackPolicy = {
  kind: "stack",
  name: "central-view-alerts",
  control: "6.5-audit",
  enforcement: "mandatory",
  description: `Grafana provisions alert rules for ${REQUIRED_ALERT_AREAS.join(", ")} (etcd quorum, API server down, certificate expiry, Argo CD out of sync, audit pipeline stalled), each class with its own route.`,
  remediation:
    "Keep plan/monitoring.ts alertRules and alertingProvisioning wired into the Grafana release (stacks/central-view.ts).",
  validate: ({ resources }) => {
    if (!resources.some((r) => release(r, "victoria-metrics-single"))) return [];
    const grafana = resources.filter((r) => release(r, "grafana"));
    if (grafana.length === 0) return [{ message: "no Grafana release provisions the alert rules" }];
    const violations: Violation[] = [];
    for (const r of grafana) {
      if (isOpaque(r.props.values)) {
        violations.push({ resource: resourceId(r), message: `the values of ${r.name} are not known at preview` });
        continue;
      }
      const groups =
        (at(r.props.values, ["alerting", "rules.yaml", "groups"]) as
          { rules?: { labels?: { area?: string } }[] }[] | undefined) ?? [];
      const areas = new Set(groups.flatMap((g) => g.rules ?? []).map((rule) => rule.labels?.area));
      const routes =
        (at(r.props.values, ["alerting", "policies.yaml", "policies"]) as
          { routes?: { object_matchers?: string[][] }[] }[] | undefined) ?? [];
      const routed = new Set(
        routes
          .flatMap((p) => p.routes ?? [])
          .flatMap((route) => route.object_matchers ?? [])
          .filter((m) => m[0] === "area" && m[1] === "=")
          .map((m) => m[2]),
      );
      for (const area of REQUIRED_ALERT_AREAS) {
        if (!areas.has(area))
          violations.push({ resource: resourceId(r), message: `${r.name}: no alert rule for ${area}` });
        if (!routed.has(area))
          violations.push({ resource: resourceId(r), message: `${r.name}: no route for ${area} alerts` });
      }
    }
    return violations;
  },
};

export const platformLogCollectorShape: ResourcePolicy = {
  kind: "resource",
  name: "platform-log-collector-shape",
  control: "6.5-audit",
  enforcement: "mandatory",
  description: `The platform-log collector mounts only ${POD_LOG_DIR}, read-only (never the audit log directory, none of the chart's default host mounts), drops every capability, cannot escalate, has a read-only root filesystem and no Kubernetes API token, and sends only to Loki with its own credential.`,
  remediation: "Keep components/monitoring/values.ts platformLogValues as it is.",
  appliesTo: isPlatformLogCollector,
  validate: (r) => {
    const values = r.props.values;
    if (isOpaque(values)) return [`the values of ${r.name} are not known at preview`];
    const problems = [...vectorHostMountProblems(values, POD_LOG_DIR), ...vectorContainerProblems(values)];
    if (at(values, ["serviceAccount", "automountToken"]) !== false)
      problems.push("serviceAccount.automountToken must be false");
    const sinks =
      (at(values, ["customConfig", "sinks"]) as
        Record<string, { type?: string; auth?: { strategy?: string } }> | undefined) ?? {};
    for (const [name, sink] of Object.entries(sinks)) {
      if (sink.type !== "loki") problems.push(`sink ${name} is ${String(sink.type)}, not loki`);
      else if (sink.auth?.strategy !== "basic") problems.push(`sink ${name} pushes without its credential`);
    }
    return problems.map((p) => `${r.name}: ${p}`);
  },
};

export const CENTRAL_VIEW_POLICIES = [
  platformIngestAuthenticated,
  auditStreamSeparate,
  metricsRetentionBounded,
  centralViewAlerts,
  platformLogCollectorShape,
];
