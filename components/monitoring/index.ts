import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { INGEST_CA_CONFIGMAP, INGEST_CA_KEY, INGEST_GATEWAY_PORT } from "../audit-trail/ingest-gateway";
import { collectorNetworkPolicySpec } from "../audit-trail/collector-values";
import { pushGatewayObjects } from "../audit-trail/push-gateway";
import { LOKI_HTTP_PORT } from "../audit-trail/loki-values";
import { PLATFORM_GATEWAY_RESOURCES, withResources } from "../../plan/workload-resources";
import type { MonitoredCluster } from "../../plan/monitoring";
import {
  METRICS_HTTP_PORT,
  METRICS_STORE_LABELS,
  METRICS_STORE_NAME,
  PLATFORM_GATEWAY_LABELS,
  PLATFORM_GATEWAY_NAME,
  PLATFORM_PUSH_SECRET,
  platformGatewayHost,
  PLATFORM_PUSH_SECRET_KEY,
  agentValues,
  metricsStoreValues,
  platformGatewayConfig,
  platformLogValues,
} from "./values";

export * from "./values";

export interface ChartRef {
  repository: string;
  version: string;
}

export interface MetricsStoreArgs {
  chart: ChartRef;
  namespace: string;
  retentionDays: number;
  storageSize: string;
  /** In-cluster Loki base URL; the gateway passes platform logs there, tenant "platform". */
  lokiUrl: string;
  /** NodePort forwarded by the ops HAProxy pair (PLATFORM_INGEST_PORT). */
  ingestNodePort: number;
  /** One per cluster, distinct from its audit credential (secrets). */
  pushCredentials: { user: string; password: pulumi.Input<string> }[];
  /** Namespace of the only in-cluster reader (Grafana). */
  queryNamespace: string;
  /** The gateway's server certificate, from the ingest CA; it names the ops VIP and platformGatewayHost. */
  tls: { certPem: pulumi.Input<string>; keyPem: pulumi.Input<string> };
  provider: k8s.Provider;
}

/**
 * The central metrics store in the ops cluster (VictoriaMetrics, bounded
 * retention) and the platform ingest gateway: the one door through which the
 * environment's clusters push metrics and platform logs, each with its own
 * credential, like the audit ingest.
 */
export class MetricsStore extends pulumi.ComponentResource {
  readonly release: k8s.helm.v3.Release;
  /** In-cluster query URL (Grafana only; a NetworkPolicy keeps other pods out). */
  readonly url: string;
  /** In-cluster URL of the gateway, for the ops cluster's own agents. */
  readonly pushUrl: string;

  constructor(name: string, args: MetricsStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:monitoring:MetricsStore", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: {
          name: args.namespace,
          labels: {
            "app.kubernetes.io/managed-by": "ske-platform",
            "pod-security.kubernetes.io/enforce": "restricted",
          },
        },
      },
      child,
    );

    this.release = new k8s.helm.v3.Release(
      `${name}-victoria-metrics`,
      {
        name: "victoria-metrics",
        chart: "victoria-metrics-single",
        version: args.chart.version,
        repositoryOpts: { repo: args.chart.repository },
        namespace: args.namespace,
        values: withResources(
          "victoria-metrics-single",
          metricsStoreValues({ retentionDays: args.retentionDays, storageSize: args.storageSize }),
        ),
        atomic: true,
      },
      { ...child, dependsOn: [namespace] },
    );
    this.url = `http://${METRICS_STORE_NAME}-server.${args.namespace}.svc.cluster.local:${METRICS_HTTP_PORT}`;

    const config = platformGatewayConfig(this.url, args.lokiUrl);
    pushGatewayObjects(
      name,
      {
        gatewayName: PLATFORM_GATEWAY_NAME,
        namespace: args.namespace,
        nginxConf: config,
        pushCredentials: args.pushCredentials,
        tls: args.tls,
        labels: PLATFORM_GATEWAY_LABELS,
        resources: PLATFORM_GATEWAY_RESOURCES,
        // A drain keeps one of the two replicas serving.
        disruptionBudget: true,
        nodePortService: { name: "platform-ingest", nodePort: args.ingestNodePort },
      },
      child,
      namespace,
    );
    this.pushUrl = `https://${platformGatewayHost(args.namespace)}:${INGEST_GATEWAY_PORT}`;

    // The gateway is the door on the NodePort (credentials are its boundary); it
    // talks only to the store, Loki and DNS.
    new k8s.networking.v1.NetworkPolicy(
      `${name}-ingest-gateway`,
      {
        metadata: { name: PLATFORM_GATEWAY_NAME, namespace: args.namespace },
        spec: {
          podSelector: { matchLabels: { ...PLATFORM_GATEWAY_LABELS } },
          policyTypes: ["Ingress", "Egress"],
          ingress: [{ ports: [{ protocol: "TCP", port: INGEST_GATEWAY_PORT }] }],
          egress: [
            {
              to: [{ podSelector: { matchLabels: { ...METRICS_STORE_LABELS } } }],
              ports: [{ protocol: "TCP", port: METRICS_HTTP_PORT }],
            },
            {
              to: [
                {
                  namespaceSelector: {
                    matchLabels: { "kubernetes.io/metadata.name": new URL(args.lokiUrl).hostname.split(".")[1]! },
                  },
                },
              ],
              ports: [{ protocol: "TCP", port: LOKI_HTTP_PORT }],
            },
            {
              to: [
                {
                  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                  podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                },
              ],
              ports: [
                { protocol: "UDP", port: 53 },
                { protocol: "TCP", port: 53 },
              ],
            },
          ],
        },
      },
      { ...child, dependsOn: [namespace] },
    );

    // The store's API (queries and writes) only for the gateway and Grafana.
    new k8s.networking.v1.NetworkPolicy(
      `${name}-store-ingress`,
      {
        metadata: { name: "victoria-metrics-ingress", namespace: args.namespace },
        spec: {
          podSelector: { matchLabels: { ...METRICS_STORE_LABELS } },
          policyTypes: ["Ingress"],
          ingress: [
            {
              from: [
                { podSelector: { matchLabels: { ...PLATFORM_GATEWAY_LABELS } } },
                {
                  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": args.queryNamespace } },
                  podSelector: { matchLabels: { "app.kubernetes.io/name": "grafana" } },
                },
              ],
              ports: [{ protocol: "TCP", port: METRICS_HTTP_PORT }],
            },
          ],
        },
      },
      { ...child, dependsOn: [namespace] },
    );
    this.registerOutputs({});
  }
}

export interface ClusterTelemetryArgs {
  charts: { agent: ChartRef; logs: ChartRef };
  cluster: MonitoredCluster & { environment: string };
  /** The platform ingest: the gateway Service in the ops cluster, the ops VIP elsewhere. */
  ingestUrl: pulumi.Input<string>;
  /** This cluster's credential at the platform gateway; the password is a secret. */
  push: { user: string; password: pulumi.Input<string> };
  /** The ingest CA's certificate: both pushers verify the gateway against it. */
  caPem: pulumi.Input<string>;
  namespaces: { metrics: string; logs: string };
  provider: k8s.Provider;
}

/** One cluster's metrics agent and platform-log collector, both pushing to the ops cluster. */
export class ClusterTelemetry extends pulumi.ComponentResource {
  readonly agent: k8s.helm.v3.Release;
  readonly logs: k8s.helm.v3.Release;

  constructor(name: string, args: ClusterTelemetryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:monitoring:ClusterTelemetry", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const metricsNs = new k8s.core.v1.Namespace(
      `${name}-metrics-namespace`,
      {
        metadata: {
          name: args.namespaces.metrics,
          labels: {
            "app.kubernetes.io/managed-by": "ske-platform",
            "pod-security.kubernetes.io/enforce": "restricted",
          },
        },
      },
      child,
    );
    const logsNs = new k8s.core.v1.Namespace(
      `${name}-logs-namespace`,
      {
        // Privileged only because baseline forbids any hostPath; policy platform-log-collector-shape holds the rest.
        metadata: {
          name: args.namespaces.logs,
          labels: {
            "app.kubernetes.io/managed-by": "ske-platform",
            "pod-security.kubernetes.io/enforce": "privileged",
          },
        },
      },
      child,
    );

    const pushSecret = (ns: string, dependsOn: pulumi.Resource) =>
      new k8s.core.v1.Secret(
        `${name}-${ns}-push-credentials`,
        {
          metadata: { name: PLATFORM_PUSH_SECRET, namespace: ns },
          type: "Opaque",
          stringData: { [PLATFORM_PUSH_SECRET_KEY]: pulumi.secret(args.push.password) },
        },
        { ...child, dependsOn: [dependsOn] },
      );
    const metricsSecret = pushSecret(args.namespaces.metrics, metricsNs);
    const logsSecret = pushSecret(args.namespaces.logs, logsNs);
    const ingestCa = (ns: string, dependsOn: pulumi.Resource) =>
      new k8s.core.v1.ConfigMap(
        `${name}-${ns}-ingest-ca`,
        {
          metadata: { name: INGEST_CA_CONFIGMAP, namespace: ns },
          data: { [INGEST_CA_KEY]: args.caPem },
        },
        { ...child, dependsOn: [dependsOn] },
      );
    const metricsCa = ingestCa(args.namespaces.metrics, metricsNs);
    const logsCa = ingestCa(args.namespaces.logs, logsNs);

    this.agent = new k8s.helm.v3.Release(
      `${name}-vmagent`,
      {
        name: "metrics-agent",
        chart: "victoria-metrics-agent",
        version: args.charts.agent.version,
        repositoryOpts: { repo: args.charts.agent.repository },
        namespace: args.namespaces.metrics,
        values: pulumi
          .output(args.ingestUrl)
          .apply((ingestUrl) =>
            withResources(
              "victoria-metrics-agent",
              agentValues({ cluster: args.cluster, ingestUrl, pushUser: args.push.user }),
            ),
          ),
        atomic: true,
      },
      { ...child, dependsOn: [metricsNs, metricsSecret, metricsCa] },
    );

    this.logs = new k8s.helm.v3.Release(
      `${name}-platform-logs`,
      {
        name: "platform-logs",
        chart: "vector",
        version: args.charts.logs.version,
        repositoryOpts: { repo: args.charts.logs.repository },
        namespace: args.namespaces.logs,
        values: pulumi
          .output(args.ingestUrl)
          .apply((ingestUrl) => platformLogValues({ cluster: args.cluster, ingestUrl, pushUser: args.push.user })),
        atomic: true,
      },
      { ...child, dependsOn: [logsNs, logsSecret, logsCa] },
    );

    // Nothing comes in; out only to DNS and the platform ingest.
    new k8s.networking.v1.NetworkPolicy(
      `${name}-platform-logs-network`,
      {
        metadata: { name: "platform-logs", namespace: args.namespaces.logs },
        spec: pulumi.output(args.ingestUrl).apply((ingestUrl) => collectorNetworkPolicySpec({ lokiUrl: ingestUrl })),
      },
      { ...child, dependsOn: [logsNs] },
    );
    this.registerOutputs({});
  }
}
