import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterScope } from "./args";
import { loadBalancerCloudInit } from "./load-balancer-config";
import type { NodeNetwork } from "./node-network";

/**
 * The HAProxy pair holding the API VIP: keepalived moves the VIP between
 * them, each forwards to every control-plane node (and to the workers for
 * the passthrough ports).
 */
export function loadBalancerPair(s: ClusterScope, network: NodeNetwork): openstack.compute.Instance[] {
  const { name, args, child, tags, zone } = s;
  const { region } = args;
  const vip = args.addresses.vip;
  const [lbA, lbB] = args.addresses.loadBalancers;
  return (
    [
      [lbA, lbB],
      [lbB, lbA],
    ] as const
  ).map(([self, peer], i) => {
    const port = new openstack.networking.Port(
      `${name}-lb-${i}`,
      {
        name: `${args.name}-lb-${i}`,
        region,
        networkId: args.networkId,
        fixedIps: [{ subnetId: args.subnetId, ipAddress: self }],
        // Lets this port answer for the VIP when keepalived moves it here.
        allowedAddressPairs: [{ ipAddress: vip }],
        securityGroupIds: args.securityGroupIds.loadBalancer,
        adminStateUp: true,
        tags,
      },
      child,
    );
    return new openstack.compute.Instance(
      `${name}-lb-${i}`,
      {
        name: `${args.name}-lb-${i}`,
        region,
        availabilityZone: zone(i),
        flavorName: args.flavors.loadBalancer,
        imageId: args.loadBalancerImageId,
        ...(args.keyPair ? { keyPair: args.keyPair } : {}),
        networks: [{ port: port.id }],
        userData: pulumi.all([network.controlPlaneAddresses, network.workerAddresses]).apply(([addresses, workers]) =>
          loadBalancerCloudInit({
            clusterName: args.name,
            vip,
            subnet: args.subnetCidr,
            self,
            peer,
            primary: i === 0,
            virtualRouterId: args.addresses.virtualRouterId,
            controlPlaneAddresses: addresses,
            passthrough: (args.workerPassthrough ?? []).map((service) => ({ ...service, backends: workers })),
          }),
        ),
        schedulerHints: [{ group: network.loadBalancerGroup.id }],
        metadata: { cluster: args.name, role: "loadbalancer" },
        tags,
      },
      { ...child, dependsOn: [network.vipPort] },
    );
  });
}
