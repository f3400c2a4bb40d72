import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { INGEST_GATEWAY_PORT } from "../audit-trail/ingest-gateway";
import { LOKI_HTTP_PORT } from "../audit-trail/loki-values";
import { METRICS_HTTP_PORT, METRICS_STORE_LABELS, PLATFORM_GATEWAY_LABELS, PLATFORM_GATEWAY_NAME } from "./values";

/**
 * The NetworkPolicies of the metrics store's namespace: what the platform
 * gateway may reach, and who may reach the store.
 */
export function metricsStoreNetworkPolicies(
  name: string,
  args: { namespace: string; lokiUrl: string; queryNamespace: string },
  child: pulumi.CustomResourceOptions,
  namespace: k8s.core.v1.Namespace,
): void {
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
}
