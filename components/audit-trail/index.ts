import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  INGEST_GATEWAY_LABELS,
  INGEST_GATEWAY_NAME,
  INGEST_GATEWAY_PORT,
  ingestGatewayHost,
  nginxConfig,
} from "./ingest-gateway";
import { LOKI_HTTP_PORT, lokiValues } from "./loki-values";
import { pushGatewayObjects } from "./push-gateway";
import { withResources } from "../../plan/workload-resources";

export * from "./collector-values";
export * from "./loki-values";
export * from "./ingest-gateway";
export { policyDenials, policyGrants, policyProblems, readBackProblems } from "../../plan/object-lock";
export type {
  ArchiveBucketSpec,
  ArchiveReadBack,
  LockMode,
  ObjectLockState,
  PrincipalActions,
  S3Credentials,
} from "../../plan/object-lock";
export * from "./archive-bucket";
export { ARCHIVE_WRITER_ANNOTATIONS, AuditCollector, type AuditCollectorArgs } from "./collector";

export interface ChartRef {
  repository: string;
  version: string;
}

export interface AuditLogStoreArgs {
  chart: ChartRef;
  namespace: string;
  retentionDays: number;
  storageSize: string;
  /**
   * Fixed NodePort on the ops nodes where the other clusters' collectors push.
   * Reachable only inside the environment's network (security groups).
   */
  ingestNodePort: number;
  /** One per collector; the gateway admits a push only with one of these (secrets). */
  pushCredentials: { user: string; password: pulumi.Input<string> }[];
  /** The gateway's server certificate (signed by the ingest CA the collectors trust) and its key (a secret). */
  tls: { certPem: pulumi.Input<string>; keyPem: pulumi.Input<string> };
  /** Namespace of the only in-cluster reader (Grafana); everything else reaches Loki through the gateway or not at all. */
  queryNamespace: string;
  /** Retention of the platform-logs tenant (the central view); audit keeps retentionDays. */
  platformLogRetentionDays?: number;
  /** The central view's gateway, which pushes platform logs (its own tenant) to Loki. */
  platformGateway?: { namespace: string; labels: Readonly<Record<string, string>> };
  provider: k8s.Provider;
}

const LOKI_POD_LABELS = {
  "app.kubernetes.io/name": "loki",
  "app.kubernetes.io/instance": "loki",
  "app.kubernetes.io/component": "single-binary",
} as const;

/** Loki in the ops cluster: the 30-day, queryable copy of every cluster's audit log. */
export class AuditLogStore extends pulumi.ComponentResource {
  readonly release: k8s.helm.v3.Release;
  /** In-cluster URL for queries (Grafana only; a NetworkPolicy keeps other pods out). */
  readonly url: string;
  /** In-cluster URL of the authenticating gateway, for the ops cluster's own collector. */
  readonly pushUrl: string;

  constructor(name: string, args: AuditLogStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:audit:AuditLogStore", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: { name: args.namespace, labels: { "app.kubernetes.io/managed-by": "ske-platform" } },
      },
      child,
    );

    this.release = new k8s.helm.v3.Release(
      `${name}-loki`,
      {
        name: "loki",
        chart: "loki",
        version: args.chart.version,
        repositoryOpts: { repo: args.chart.repository },
        namespace: args.namespace,
        values: withResources(
          "loki",
          lokiValues({
            retentionDays: args.retentionDays,
            storageSize: args.storageSize,
            ...(args.platformLogRetentionDays !== undefined
              ? { platformLogRetentionDays: args.platformLogRetentionDays }
              : {}),
          }),
        ),
        atomic: true,
      },
      { ...child, dependsOn: [namespace] },
    );
    this.url = `http://loki.${args.namespace}.svc.cluster.local:${LOKI_HTTP_PORT}`;

    // The push door: nginx with one credential per collector, push path only.
    const config = nginxConfig(this.url);
    pushGatewayObjects(
      name,
      {
        gatewayName: INGEST_GATEWAY_NAME,
        namespace: args.namespace,
        nginxConf: config,
        pushCredentials: args.pushCredentials,
        tls: args.tls,
        labels: INGEST_GATEWAY_LABELS,
        nodePortService: { name: "loki-audit-ingest", nodePort: args.ingestNodePort },
      },
      child,
      namespace,
    );
    this.pushUrl = `https://${ingestGatewayHost(args.namespace)}:${INGEST_GATEWAY_PORT}`;

    // Loki's HTTP API (queries, tail, push) only for the gateway and Grafana; Loki may talk to itself.
    new k8s.networking.v1.NetworkPolicy(
      `${name}-loki-ingress`,
      {
        metadata: { name: "loki-ingress", namespace: args.namespace },
        spec: {
          podSelector: { matchLabels: { ...LOKI_POD_LABELS } },
          policyTypes: ["Ingress"],
          ingress: [
            {
              from: [
                { podSelector: { matchLabels: { ...INGEST_GATEWAY_LABELS } } },
                ...(args.platformGateway
                  ? [
                      {
                        namespaceSelector: {
                          matchLabels: { "kubernetes.io/metadata.name": args.platformGateway.namespace },
                        },
                        podSelector: { matchLabels: { ...args.platformGateway.labels } },
                      },
                    ]
                  : []),
                {
                  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": args.queryNamespace } },
                  podSelector: { matchLabels: { "app.kubernetes.io/name": "grafana" } },
                },
              ],
              ports: [{ protocol: "TCP", port: LOKI_HTTP_PORT }],
            },
            { from: [{ podSelector: { matchLabels: { ...LOKI_POD_LABELS } } }] },
          ],
        },
      },
      { ...child, dependsOn: [namespace] },
    );
    this.registerOutputs({});
  }
}
