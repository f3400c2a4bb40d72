import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { INGEST_CA_CONFIGMAP, INGEST_CA_KEY } from "../audit-trail/ingest-gateway";
import { collectorNetworkPolicySpec } from "../audit-trail/collector-values";
import { withResources } from "../../plan/workload-resources";
import type { MonitoredCluster } from "../../plan/monitoring";
import type { ChartRef } from "./index";
import { PLATFORM_PUSH_SECRET, PLATFORM_PUSH_SECRET_KEY, agentValues, platformLogValues } from "./values";

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
    const { metricsNs, logsNs } = telemetryNamespaces(name, args, child);
    const { metricsSecret, logsSecret, metricsCa, logsCa } = pushPrerequisites(name, args, child, {
      metrics: metricsNs,
      logs: logsNs,
    });

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

/** The agent's namespace (restricted) and the log collector's (privileged, for its hostPath). */
function telemetryNamespaces(
  name: string,
  args: ClusterTelemetryArgs,
  child: pulumi.CustomResourceOptions,
): { metricsNs: k8s.core.v1.Namespace; logsNs: k8s.core.v1.Namespace } {
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
  return { metricsNs, logsNs };
}

/** What each pusher needs in its namespace: the push credential (a secret) and the ingest CA. */
function pushPrerequisites(
  name: string,
  args: ClusterTelemetryArgs,
  child: pulumi.CustomResourceOptions,
  namespaces: { metrics: k8s.core.v1.Namespace; logs: k8s.core.v1.Namespace },
): {
  metricsSecret: k8s.core.v1.Secret;
  logsSecret: k8s.core.v1.Secret;
  metricsCa: k8s.core.v1.ConfigMap;
  logsCa: k8s.core.v1.ConfigMap;
} {
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
  const metricsSecret = pushSecret(args.namespaces.metrics, namespaces.metrics);
  const logsSecret = pushSecret(args.namespaces.logs, namespaces.logs);
  const ingestCa = (ns: string, dependsOn: pulumi.Resource) =>
    new k8s.core.v1.ConfigMap(
      `${name}-${ns}-ingest-ca`,
      {
        metadata: { name: INGEST_CA_CONFIGMAP, namespace: ns },
        data: { [INGEST_CA_KEY]: args.caPem },
      },
      { ...child, dependsOn: [dependsOn] },
    );
  const metricsCa = ingestCa(args.namespaces.metrics, namespaces.metrics);
  const logsCa = ingestCa(args.namespaces.logs, namespaces.logs);
  return { metricsSecret, logsSecret, metricsCa, logsCa };
}
