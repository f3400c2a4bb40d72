import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import { auditEvidence } from "../../plan/audit-evidence";
import { joinsAfter } from "../../plan/rollout";
import {
  auditPolicy,
  authenticationConfiguration,
  controlPlaneConfig,
  renderMachineConfig,
  workerConfig,
  type ClusterConfigInput,
  type MachineSecretValues,
} from "../talos/machine-config";
import type { TalosMachineSecrets } from "../talos/secrets";
import { adminBindingManifest } from "./access";
import type { ClusterScope } from "./args";
import { API_SERVER_PORT } from "./load-balancer-config";
import type { NodeNetwork } from "./node-network";

/** The Talos instances of one cluster and what the day 2 roll-out needs to reach them. */
export interface TalosNodes {
  /** Instances created now: the initial quorum, or all when nothing is bootstrapped. */
  controlPlane: openstack.compute.Instance[];
  workers: openstack.compute.Instance[];
  controlPlaneUserData: pulumi.Output<string>;
  workerUserData: pulumi.Output<string>;
  controlPlaneEvidence: Record<string, string>;
  /** Whether control-plane node i is created later, by the roll-out, after the previous node's gate. */
  joinLater: (i: number) => boolean;
  createControlPlane: (i: number, opts: pulumi.CustomResourceOptions) => openstack.compute.Instance;
}

/** Talos machine configs, rendered from our secrets and secret themselves, and the instances that boot them. */
export function talosNodes(s: ClusterScope, network: NodeNetwork, secrets: TalosMachineSecrets): TalosNodes {
  const { name, args, child, tags, zone } = s;
  const vip = args.addresses.vip;
  const inlineManifests = [{ name: "ske-platform-admins", contents: adminBindingManifest() }];
  const configInput = (floatingAddress: string | undefined): ClusterConfigInput => ({
    clusterName: args.name,
    endpoint: `https://${vip}:${API_SERVER_PORT}`,
    apiServerCertSans: floatingAddress ? [vip, floatingAddress] : [vip],
    nodeSubnet: args.subnetCidr,
    talosVersion: args.talosVersion,
    kubernetesVersion: args.kubernetesVersion,
    oidc: args.oidc,
    inlineManifests,
  });
  const floatingIp = network.floatingIp;
  const render = (
    build: (input: ClusterConfigInput, secrets: MachineSecretValues) => ReturnType<typeof workerConfig>,
  ) =>
    pulumi.secret(
      pulumi
        .all([secrets.values(), floatingIp ? floatingIp.address : pulumi.output(undefined)])
        .apply(([values, address]) => renderMachineConfig(build(configInput(address), values))),
    );
  const controlPlaneUserData = render(controlPlaneConfig);
  const workerUserData = render(workerConfig);

  // Talos reads user data only on first boot and keeps its config on disk;
  // a changed config is rolled out by the apply-config steps, and a new
  // Talos version by the upgrade steps. Replacing the instance would wipe
  // etcd. The audit/OIDC evidence rides on the control-plane apply steps,
  // whose state changes only once a node runs the config; instance metadata
  // would change with the desired config alone.
  const controlPlaneEvidence = auditEvidence(
    auditPolicy(),
    authenticationConfiguration(args.oidc, args.kubernetesVersion),
  );
  const talosInstance = (
    suffix: string,
    port: openstack.networking.Port,
    i: number,
    flavor: string,
    userData: pulumi.Output<string>,
    group: openstack.compute.ServerGroup,
    extra: pulumi.CustomResourceOptions,
  ) =>
    new openstack.compute.Instance(
      `${name}-${suffix}`,
      {
        name: `${args.name}-${suffix}`,
        region: args.region,
        availabilityZone: zone(i),
        flavorName: flavor,
        imageId: args.talosImageId,
        networks: [{ port: port.id }],
        userData,
        schedulerHints: [{ group: group.id }],
        metadata: {
          cluster: args.name,
          role: args.role,
          "node-role": suffix.startsWith("cp-") ? "controlplane" : "worker",
        },
        tags,
      },
      { ...child, ...extra, ignoreChanges: ["userData", "imageId"] },
    );

  const protection = { protect: args.protect, retainOnDelete: args.protect };
  const createControlPlane = (i: number, opts: pulumi.CustomResourceOptions) =>
    talosInstance(
      `cp-${i}`,
      network.controlPlanePorts[i]!,
      i,
      args.flavors.controlPlane,
      controlPlaneUserData,
      network.controlPlaneGroup,
      { ...protection, ...opts },
    );
  // Nodes past the initial quorum join one at a time: each is created only
  // after the previous one passed its gate (see the roll-out).
  const joinLater = args.bootstrap ? (i: number) => joinsAfter(i) !== undefined : () => false;
  const controlPlane = network.controlPlanePorts.flatMap((_, i) => (joinLater(i) ? [] : [createControlPlane(i, {})]));
  const workers = network.workerPorts.map((port, i) =>
    talosInstance(`worker-${i}`, port, i, args.flavors.worker, workerUserData, network.workerGroup, {}),
  );
  return {
    controlPlane,
    workers,
    controlPlaneUserData,
    workerUserData,
    controlPlaneEvidence,
    joinLater,
    createControlPlane,
  };
}
