/**
 * Pods must not reach the OpenStack metadata service. Control-plane user data
 * (the Talos machine config) holds every CA key, the service-account key and
 * the secretbox key, and Nova serves user data to anyone on the instance who
 * asks 169.254.169.254, a pod included. Talos reads its config at boot and
 * never again from there, so nothing in a pod needs the service.
 *
 * A Cilium clusterwide policy denies egress to it from every endpoint. Deny
 * rules win over any allow rule, and `enableDefaultDeny: false` keeps this
 * policy from switching the selected pods to default-deny. Pure data.
 */

export const METADATA_BLOCK_NAME = "ske-deny-instance-metadata";

/** Nova's metadata addresses: IPv4 link-local, and Neutron's IPv6 one (fe80::a9fe:a9fe). */
export const METADATA_CIDRS = ["169.254.169.254/32", "fe80::a9fe:a9fe/128"] as const;

export function metadataBlockPolicy() {
  return {
    apiVersion: "cilium.io/v2",
    kind: "CiliumClusterwideNetworkPolicy",
    metadata: { name: METADATA_BLOCK_NAME, labels: { "app.kubernetes.io/managed-by": "ske-platform" } },
    spec: {
      description: "No pod reaches the instance metadata service: control-plane user data holds the cluster's CA keys",
      // Every pod in every namespace. Host-network pods are not Cilium endpoints; see docs/threat-model.md.
      endpointSelector: {},
      enableDefaultDeny: { egress: false, ingress: false },
      egressDeny: [{ toCIDR: [...METADATA_CIDRS] }],
    },
  };
}
