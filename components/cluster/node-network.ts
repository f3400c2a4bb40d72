import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterScope } from "./args";

/** Server groups and ports of one cluster: where its nodes may run and the addresses they get. */
export interface NodeNetwork {
  controlPlaneGroup: openstack.compute.ServerGroup;
  workerGroup: openstack.compute.ServerGroup;
  loadBalancerGroup: openstack.compute.ServerGroup;
  vipPort: openstack.networking.Port;
  floatingIp?: openstack.networking.FloatingIp;
  controlPlanePorts: openstack.networking.Port[];
  workerPorts: openstack.networking.Port[];
  controlPlaneAddresses: pulumi.Output<string[]>;
  workerAddresses: pulumi.Output<string[]>;
}

const firstAddress = (port: openstack.networking.Port) => port.allFixedIps.apply((ips) => ips[0]!);

export function nodeNetwork(s: ClusterScope): NodeNetwork {
  const { name, args, child, tags } = s;
  const { region } = args;
  const vip = args.addresses.vip;

  // Hard anti-affinity for the etcd members and the HAProxy pair: one
  // hypervisor must never hold two of them. If the cloud cannot place them
  // apart, creation fails loudly instead of silently losing redundancy.
  // Workers only prefer to spread.
  const serverGroup = (suffix: string, policy: string) =>
    new openstack.compute.ServerGroup(
      `${name}-${suffix}`,
      { name: `${args.name}-${suffix}`, region, policies: [policy] },
      child,
    );
  const controlPlaneGroup = serverGroup("controlplane", "anti-affinity");
  const workerGroup = serverGroup("worker", "soft-anti-affinity");
  const loadBalancerGroup = serverGroup("loadbalancer", "anti-affinity");

  // The VIP is reserved by a port of its own so Neutron never hands it out.
  const vipPort = new openstack.networking.Port(
    `${name}-vip`,
    {
      name: `${args.name}-vip`,
      region,
      networkId: args.networkId,
      fixedIps: [{ subnetId: args.subnetId, ipAddress: vip }],
      securityGroupIds: args.securityGroupIds.loadBalancer,
      adminStateUp: true,
      tags,
    },
    child,
  );
  const floatingIp = args.floatingIpPool
    ? new openstack.networking.FloatingIp(
        `${name}-vip-fip`,
        {
          region,
          pool: args.floatingIpPool,
          portId: vipPort.id,
          description: `Kubernetes API of ${args.name}`,
          tags,
        },
        child,
      )
    : undefined;

  const nodePort = (suffix: string, groups: pulumi.Input<string>[]) =>
    new openstack.networking.Port(
      `${name}-${suffix}`,
      {
        name: `${args.name}-${suffix}`,
        region,
        networkId: args.networkId,
        fixedIps: [{ subnetId: args.subnetId }],
        securityGroupIds: groups,
        adminStateUp: true,
        tags,
      },
      child,
    );
  const controlPlanePorts = Array.from({ length: args.nodes.controlPlane }, (_, i) =>
    nodePort(`cp-${i}`, args.securityGroupIds.controlPlane),
  );
  const workerPorts = Array.from({ length: args.nodes.worker }, (_, i) =>
    nodePort(`worker-${i}`, args.securityGroupIds.worker),
  );
  return {
    controlPlaneGroup,
    workerGroup,
    loadBalancerGroup,
    vipPort,
    ...(floatingIp ? { floatingIp } : {}),
    controlPlanePorts,
    workerPorts,
    controlPlaneAddresses: pulumi.all(controlPlanePorts.map(firstAddress)),
    workerAddresses: pulumi.all(workerPorts.map(firstAddress)),
  };
}
