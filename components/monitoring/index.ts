import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { INGEST_GATEWAY_PORT } from "../audit-trail/ingest-gateway";
import { pushGatewayObjects } from "../audit-trail/push-gateway";
import { PLATFORM_GATEWAY_RESOURCES, withResources } from "../../plan/workload-resources";
import { metricsStoreNetworkPolicies } from "./store-network";
import {
  METRICS_HTTP_PORT,
  METRICS_STORE_NAME,
  PLATFORM_GATEWAY_LABELS,
  PLATFORM_GATEWAY_NAME,
  platformGatewayHost,
  metricsStoreValues,
  platformGatewayConfig,
} from "./values";

export * from "./values";
export { ClusterTelemetry, type ClusterTelemetryArgs } from "./cluster-telemetry";

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

    metricsStoreNetworkPolicies(name, args, child, namespace);
    this.registerOutputs({});
  }
}
