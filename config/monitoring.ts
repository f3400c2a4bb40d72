/**
 * The central view's part of the stack-file schema (`ske-platform:monitoring`);
 * config/schema.ts puts it in the one schema.
 */
import { z } from "zod";
import { chartRefSchema, httpsUrl } from "./scalars";

/** Charts of the central view (components/monitoring); pinned like the audit charts. */
export const MONITORING_CHART_DEFAULTS = {
  metrics: { repository: "https://victoriametrics.github.io/helm-charts", version: "0.27.0" },
  agent: { repository: "https://victoriametrics.github.io/helm-charts", version: "0.29.0" },
} as const;

/** The central view in the ops cluster: metrics, platform logs, alerting (docs/operations/central-view.md). */
export const monitoringSchema = z.strictObject({
  /** Days the metrics store keeps samples; bounded so the volume is bounded. */
  metricsRetentionDays: z.number().int().min(1).max(400).default(30),
  /** Days Loki keeps platform (non-audit) logs; the audit stream keeps audit.retentionDays. */
  platformLogRetentionDays: z.number().int().min(1).max(3650).default(14),
  /** Where alerts are posted; without it they stay in Grafana's default contact point. */
  alertWebhook: httpsUrl.optional(),
  charts: z
    .strictObject({
      metrics: chartRefSchema.default(MONITORING_CHART_DEFAULTS.metrics),
      agent: chartRefSchema.default(MONITORING_CHART_DEFAULTS.agent),
    })
    .default(MONITORING_CHART_DEFAULTS),
});
