/**
 * Grafana alerting provisioning for the alert rules of plan/monitoring.ts:
 * the rule group, the contact point and the notification policy tree.
 */
import type { AlertRule } from "./monitoring";

export interface ContactPointInput {
  /** Where alerts go; when absent they stay in Grafana's default contact point. */
  webhookUrl?: string | undefined;
}

export const ALERT_FOLDER = "Platform";
export const ALERT_RECEIVER = "platform-oncall";
/** Grafana's built-in contact point, used when no webhook is configured. */
export const GRAFANA_DEFAULT_RECEIVER = "grafana-default-email";

/** Grafana alerting provisioning (rules, contact point, routes) for the rules above. */
export function alertingProvisioning(
  rules: readonly AlertRule[],
  datasources: { metrics: string; auditLogs: string },
  contact: ContactPointInput,
) {
  const receiver = contact.webhookUrl ? ALERT_RECEIVER : GRAFANA_DEFAULT_RECEIVER;
  const areas = [...new Set(rules.map((r) => r.area))];
  return {
    "rules.yaml": {
      apiVersion: 1,
      groups: [
        {
          orgId: 1,
          name: "platform",
          folder: ALERT_FOLDER,
          interval: "1m",
          rules: rules.map((rule) => ({
            uid: rule.uid,
            title: rule.title,
            condition: "B",
            data: [
              {
                refId: "A",
                relativeTimeRange: { from: 900, to: 0 },
                datasourceUid: rule.source === "metrics" ? datasources.metrics : datasources.auditLogs,
                model: { refId: "A", expr: rule.expr, instant: true, queryType: "instant" },
              },
              {
                refId: "B",
                datasourceUid: "__expr__",
                model: {
                  refId: "B",
                  type: "threshold",
                  expression: "A",
                  // Metric rules return a series only while firing; log rules count events and fire below one.
                  conditions: [
                    {
                      evaluator: rule.source === "metrics" ? { type: "gt", params: [0] } : { type: "lt", params: [1] },
                    },
                  ],
                },
              },
            ],
            // No audit events at all is the stall itself; no metric series means nothing fires.
            noDataState: rule.source === "metrics" ? "OK" : "Alerting",
            execErrState: "Error",
            for: rule.for,
            labels: { severity: rule.severity, area: rule.area },
            annotations: { summary: rule.summary },
          })),
        },
      ],
    },
    ...(contact.webhookUrl
      ? {
          "contactpoints.yaml": {
            apiVersion: 1,
            contactPoints: [
              {
                orgId: 1,
                name: ALERT_RECEIVER,
                receivers: [
                  { uid: ALERT_RECEIVER, type: "webhook", settings: { url: contact.webhookUrl, httpMethod: "POST" } },
                ],
              },
            ],
          },
        }
      : {}),
    "policies.yaml": {
      apiVersion: 1,
      policies: [
        {
          orgId: 1,
          receiver,
          group_by: ["alertname", "cluster"],
          routes: areas.map((area) => ({
            receiver,
            object_matchers: [["area", "=", area]],
            group_wait: "30s",
            // Critical areas page again sooner than the rest.
            repeat_interval: rules.some((r) => r.area === area && r.severity === "critical") ? "1h" : "4h",
          })),
        },
      ],
    },
  };
}
