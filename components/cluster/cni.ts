import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { withResources } from "../../plan/workload-resources";
import type { ClusterScope } from "./args";
import { API_SERVER_PORT } from "./load-balancer-config";
import { metadataBlockPolicy } from "./metadata-block";

export const CILIUM_REPOSITORY = "https://helm.cilium.io";

/**
 * The Kubernetes provider of one cluster, Cilium through it, and the policy
 * that keeps pods off the instance metadata service.
 */
export function kubernetesBase(
  s: ClusterScope,
  kubeconfig: pulumi.Output<string>,
  after: pulumi.Resource[],
): { provider: k8s.Provider; cni: pulumi.Resource } {
  const { name, args, parent } = s;
  // clusterIdentifier: a renewed admin certificate changes the kubeconfig, which must update the provider, never replace it (and everything deployed through it).
  const provider = new k8s.Provider(`${name}-k8s`, { kubeconfig, clusterIdentifier: args.name }, { parent });

  const cilium = new k8s.helm.v3.Release(
    `${name}-cilium`,
    {
      name: "cilium",
      chart: "cilium",
      version: args.ciliumChartVersion,
      repositoryOpts: { repo: CILIUM_REPOSITORY },
      namespace: "kube-system",
      values: withResources("cilium", ciliumValues(args.addresses.vip)),
      // Nodes stay NotReady until Cilium runs; give it time to roll out.
      timeout: 900,
    },
    { parent, provider, dependsOn: after },
  );

  // Cilium brings the CRD; the policy waits for the release.
  const block = metadataBlockPolicy();
  new k8s.apiextensions.CustomResource(
    `${name}-deny-instance-metadata`,
    {
      apiVersion: block.apiVersion,
      kind: block.kind,
      metadata: block.metadata,
      spec: block.spec,
    },
    { parent, provider, dependsOn: [cilium] },
  );
  return { provider, cni: cilium };
}

/**
 * Cilium as Talos needs it: kube-proxy replacement (Talos runs no
 * kube-proxy), the API reached through the VIP because no Service works
 * before Cilium does, cgroups already mounted by Talos, and only the
 * capabilities Talos permits (no SYS_MODULE).
 */
export function ciliumValues(vip: string) {
  return {
    kubeProxyReplacement: true,
    k8sServiceHost: vip,
    k8sServicePort: API_SERVER_PORT,
    ipam: { mode: "kubernetes" },
    routingMode: "tunnel",
    tunnelProtocol: "vxlan",
    cgroup: { autoMount: { enabled: false }, hostRoot: "/sys/fs/cgroup" },
    securityContext: {
      capabilities: {
        ciliumAgent: [
          "CHOWN",
          "KILL",
          "NET_ADMIN",
          "NET_RAW",
          "IPC_LOCK",
          "SYS_ADMIN",
          "SYS_RESOURCE",
          "DAC_OVERRIDE",
          "FOWNER",
          "SETGID",
          "SETUID",
        ],
        cleanCiliumState: ["NET_ADMIN", "SYS_ADMIN", "SYS_RESOURCE"],
      },
    },
  };
}
