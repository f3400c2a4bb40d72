/**
 * The central view of one environment, wired: the metrics store and platform
 * ingest gateway in the ops cluster, a metrics agent and a platform-log
 * collector in every cluster, and what Grafana provisions from them.
 */
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { METRICS_DATASOURCE_UID, type CentralViewInput } from "../components/grafana";
import { ClusterTelemetry, MetricsStore, PLATFORM_GATEWAY_LABELS, platformGatewayHost } from "../components/monitoring";
import type { PlatformConfig } from "../config/schema";
import { DASHBOARDS, alertRules, alertingProvisioning, dashboardJson } from "../plan/monitoring";
import type { PlatformPlan } from "../plan/platform-plan";
import { PLATFORM_INGEST_PORT } from "../plan/security-rules";
import type { DeployedCluster } from "./contracts";

const NAMESPACES = { store: "metrics", agent: "metrics-agent", logs: "platform-logs" } as const;
/** The audit Loki data source's uid in Grafana (components/grafana/values.ts). */
const AUDIT_LOGS_DATASOURCE_UID = "loki";

type ReadyCluster = DeployedCluster & { provider: k8s.Provider };

export interface CentralViewOutputs {
  metrics: { namespace: string; retentionDays: number; ingestPort: number };
  platformLogs: { tenant: "platform"; retentionDays: number };
  alertRules: string[];
  dashboards: string[];
}

export interface CentralViewArgs {
  plan: PlatformPlan;
  config: PlatformConfig;
  clusters: ReadyCluster[];
  ops: ReadyCluster;
  lokiUrl: string;
  grafanaNamespace: string;
  /** The platform gateway's certificate (naming `gateway.host` and the ops VIP) and the ingest CA that signed it. */
  tls: { caPem: pulumi.Input<string>; certPem: pulumi.Input<string>; keyPem: pulumi.Input<string> };
}

function deploy(args: CentralViewArgs): { grafana: CentralViewInput; outputs: CentralViewOutputs } {
  const { plan, config, clusters, ops } = args;
  const env = plan.environment;
  const monitoring = config.monitoring;

  // One platform-ingest credential per cluster, distinct from its audit credential.
  const push = new Map(
    clusters.map((cluster) => {
      const password = new random.RandomPassword(`${cluster.plan.name}-platform-push-password`, {
        length: 40,
        special: false,
      });
      return [cluster.plan.name, { user: cluster.plan.name, password: pulumi.secret(password.result) }] as const;
    }),
  );

  const store = new MetricsStore(`${env}-metrics`, {
    chart: monitoring.charts.metrics,
    namespace: NAMESPACES.store,
    retentionDays: monitoring.metricsRetentionDays,
    storageSize: "50Gi",
    lokiUrl: args.lokiUrl,
    ingestNodePort: PLATFORM_INGEST_PORT,
    pushCredentials: [...push.values()],
    queryNamespace: args.grafanaNamespace,
    tls: { certPem: args.tls.certPem, keyPem: args.tls.keyPem },
    provider: ops.provider,
  });

  const remoteIngestUrl = ops.endpoint.apply(
    (endpoint) => `https://${new URL(endpoint).hostname}:${PLATFORM_INGEST_PORT}`,
  );
  for (const cluster of clusters) {
    new ClusterTelemetry(`${cluster.plan.name}-telemetry`, {
      charts: { agent: monitoring.charts.agent, logs: config.audit.charts.collector },
      cluster: { name: cluster.plan.name, environment: env, site: cluster.plan.site, role: cluster.plan.role },
      ingestUrl: cluster === ops ? store.pushUrl : remoteIngestUrl,
      push: push.get(cluster.plan.name)!,
      caPem: args.tls.caPem,
      namespaces: { metrics: NAMESPACES.agent, logs: NAMESPACES.logs },
      provider: cluster.provider,
    });
  }

  const rules = alertRules(clusters.map((c) => ({ name: c.plan.name, role: c.plan.role, site: c.plan.site })));
  const grafana: CentralViewInput = {
    metricsUrl: store.url,
    dashboards: Object.fromEntries(DASHBOARDS.map((d) => [d.uid, dashboardJson(d, METRICS_DATASOURCE_UID)])),
    alerting: alertingProvisioning(
      rules,
      { metrics: METRICS_DATASOURCE_UID, auditLogs: AUDIT_LOGS_DATASOURCE_UID },
      { webhookUrl: monitoring.alertWebhook },
    ),
  };
  return {
    grafana,
    outputs: {
      metrics: {
        namespace: NAMESPACES.store,
        retentionDays: monitoring.metricsRetentionDays,
        ingestPort: PLATFORM_INGEST_PORT,
      },
      platformLogs: { tenant: "platform", retentionDays: monitoring.platformLogRetentionDays },
      alertRules: rules.map((r) => r.uid),
      dashboards: DASHBOARDS.map((d) => d.uid),
    },
  };
}

export const centralView = {
  /** Where the platform gateway runs, for Loki's NetworkPolicy. */
  gateway: {
    namespace: NAMESPACES.store,
    labels: PLATFORM_GATEWAY_LABELS,
    host: platformGatewayHost(NAMESPACES.store),
  },
  deploy,
};
