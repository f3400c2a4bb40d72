import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import {
  HTPASSWD_KEY,
  INGEST_GATEWAY_PORT,
  gatewayDeploymentSpec,
  htpasswdLine,
  type PushCredential,
} from "./ingest-gateway";
import type { ResourceSpec } from "../../plan/workload-resources";

export interface PushGatewayArgs {
  /** Kubernetes name of the gateway; its ConfigMap and Secrets take it as prefix. */
  gatewayName: string;
  namespace: string;
  nginxConf: string;
  pushCredentials: { user: string; password: pulumi.Input<string> }[];
  tls: { certPem: pulumi.Input<string>; keyPem: pulumi.Input<string> };
  labels: Readonly<Record<string, string>>;
  /** Omitted: the audit gateway's resources. */
  resources?: ResourceSpec;
  /** Keeps one replica serving through a drain. */
  disruptionBudget?: boolean;
  /** The NodePort Service the HAProxy pair forwards to the gateway. */
  nodePortService: { name: string; nodePort: number };
}

/**
 * The Kubernetes objects of an nginx push gateway (config, one credential per
 * pusher, TLS, Deployment, Services). The audit gateway and the platform
 * gateway are the same door in front of different backends, so both render here.
 */
export function pushGatewayObjects(
  name: string,
  args: PushGatewayArgs,
  opts: pulumi.CustomResourceOptions,
  namespace: pulumi.Resource,
): void {
  const gatewayConfig = new k8s.core.v1.ConfigMap(
    `${name}-ingest-gateway-config`,
    {
      metadata: { name: `${args.gatewayName}-config`, namespace: args.namespace },
      data: { "nginx.conf": args.nginxConf },
    },
    { ...opts, dependsOn: [namespace] },
  );
  const htpasswd = pulumi.secret(
    pulumi
      .all(args.pushCredentials.map((c) => pulumi.all([c.user, c.password])))
      .apply(
        (pairs) =>
          pairs.map(([user, password]) => htpasswdLine({ user, password } satisfies PushCredential)).join("\n") + "\n",
      ),
  );
  const gatewaySecret = new k8s.core.v1.Secret(
    `${name}-ingest-gateway-users`,
    {
      metadata: { name: `${args.gatewayName}-users`, namespace: args.namespace },
      type: "Opaque",
      stringData: { [HTPASSWD_KEY]: htpasswd },
    },
    { ...opts, dependsOn: [namespace] },
  );
  const gatewayTls = new k8s.core.v1.Secret(
    `${name}-ingest-gateway-tls`,
    {
      metadata: { name: `${args.gatewayName}-tls`, namespace: args.namespace },
      type: "kubernetes.io/tls",
      stringData: { "tls.crt": args.tls.certPem, "tls.key": pulumi.secret(args.tls.keyPem) },
    },
    { ...opts, dependsOn: [namespace] },
  );
  const labels = args.labels;
  new k8s.apps.v1.Deployment(
    `${name}-ingest-gateway`,
    {
      metadata: { name: args.gatewayName, namespace: args.namespace, labels: { ...labels } },
      spec: gatewayDeploymentSpec({
        configMap: `${args.gatewayName}-config`,
        secret: `${args.gatewayName}-users`,
        tlsSecret: `${args.gatewayName}-tls`,
        checksum: createHash("sha256").update(args.nginxConf).digest("hex"),
        labels,
        ...(args.resources !== undefined ? { resources: args.resources } : {}),
      }),
    },
    { ...opts, dependsOn: [gatewayConfig, gatewaySecret, gatewayTls] },
  );
  if (args.disruptionBudget) {
    new k8s.policy.v1.PodDisruptionBudget(
      `${name}-ingest-gateway`,
      {
        metadata: { name: args.gatewayName, namespace: args.namespace },
        spec: { minAvailable: 1, selector: { matchLabels: { ...labels } } },
      },
      { ...opts, dependsOn: [namespace] },
    );
  }
  new k8s.core.v1.Service(
    `${name}-ingest-gateway`,
    {
      metadata: { name: args.gatewayName, namespace: args.namespace },
      spec: {
        type: "ClusterIP",
        selector: { ...labels },
        ports: [{ name: "push", port: INGEST_GATEWAY_PORT, targetPort: INGEST_GATEWAY_PORT, protocol: "TCP" }],
      },
    },
    { ...opts, dependsOn: [namespace] },
  );
  new k8s.core.v1.Service(
    `${name}-ingest`,
    {
      metadata: { name: args.nodePortService.name, namespace: args.namespace },
      spec: {
        type: "NodePort",
        selector: { ...labels },
        ports: [
          {
            name: "push",
            port: INGEST_GATEWAY_PORT,
            targetPort: INGEST_GATEWAY_PORT,
            nodePort: args.nodePortService.nodePort,
            protocol: "TCP",
          },
        ],
      },
    },
    { ...opts, dependsOn: [namespace] },
  );
}
