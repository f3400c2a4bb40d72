import type * as k8s from "@pulumi/kubernetes";
import type * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import { INITIAL_QUORUM, rolloutWaves } from "../../plan/rollout";
import { TalosMachineSecrets } from "../talos/secrets";
import { clusterAccess } from "./access";
import type { ClusterArgs, ClusterScope, NodeAddresses } from "./args";
import { bootstrapCommand } from "./bootstrap";
import { kubernetesBase } from "./cni";
import { API_SERVER_PORT } from "./load-balancer-config";
import { loadBalancerPair } from "./load-balancers";
import { nodeNetwork } from "./node-network";
import {
  applyConfigStep,
  chainWaves,
  kubernetesUpgradeStep,
  talosUpgradeStep,
  type RolloutCommon,
  type RolloutNodeTarget,
} from "./rollout";
import { talosNodes, type TalosNodes } from "./talos-nodes";

export { ADMIN_GROUP, adminBindingManifest } from "./access";
export type { ClusterArgs, NodeAddresses } from "./args";
export { CILIUM_REPOSITORY, ciliumValues } from "./cni";

/**
 * One Talos cluster on OpenStack, ops or management: control plane and
 * workers on ports of the site subnet (node-network.ts, talos-nodes.ts), an
 * HAProxy pair holding the API VIP (load-balancers.ts), Talos configs
 * generated from our own secrets, access (access.ts), bootstrap, Cilium
 * (cni.ts) and the day 2 roll-out (rollout.ts).
 */
export class Cluster extends pulumi.ComponentResource {
  readonly endpoint: pulumi.Output<string>;
  readonly caCertificate: pulumi.Output<string>;
  /** Secret. */
  readonly kubeconfig: pulumi.Output<string>;
  /** Secret. */
  readonly talosconfig: pulumi.Output<string>;
  readonly nodeAddresses: NodeAddresses;
  readonly secrets: TalosMachineSecrets;
  readonly controlPlane: openstack.compute.Instance[];
  readonly workers: openstack.compute.Instance[];
  readonly loadBalancers: openstack.compute.Instance[];
  readonly bootstrap?: pulumi.Resource;
  /** Day 2 steps in the order the engine runs them: Talos upgrades, the Kubernetes upgrade, config applies. */
  readonly rollout: pulumi.Resource[] = [];
  /** Explicit provider for everything deployed into this cluster. */
  readonly kubernetesProvider?: k8s.Provider;

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:cluster:Cluster", name, {}, opts);
    const scope: ClusterScope = {
      name,
      args,
      parent: this,
      child: { parent: this, provider: args.provider },
      tags: [...args.tags, `cluster:${args.name}`, `role:${args.role}`],
      zone: (i: number) => args.availabilityZones[i % args.availabilityZones.length]!,
    };
    const vip = args.addresses.vip;
    this.endpoint = pulumi.output(`https://${vip}:${API_SERVER_PORT}`);

    this.secrets = new TalosMachineSecrets(
      `${name}-secrets`,
      { clusterName: args.name, protect: args.protect },
      { parent: this },
    );
    this.caCertificate = this.secrets.kubernetesCa.certPem;

    const network = nodeNetwork(scope);
    const nodes = talosNodes(scope, network, this.secrets);
    this.controlPlane = nodes.controlPlane;
    this.workers = nodes.workers;
    this.loadBalancers = loadBalancerPair(scope, network);

    const access = clusterAccess(scope, this.secrets, network.controlPlaneAddresses);
    this.kubeconfig = access.kubeconfig;
    this.talosconfig = access.talosconfig;

    const [lbA, lbB] = args.addresses.loadBalancers;
    this.nodeAddresses = {
      controlPlane: network.controlPlaneAddresses,
      workers: network.workerAddresses,
      loadBalancers: [lbA, lbB],
      vip,
      ...(network.floatingIp ? { floatingIp: network.floatingIp.address } : {}),
    };

    if (args.bootstrap) {
      this.bootstrap = bootstrapCommand(
        `${name}-bootstrap`,
        {
          clusterName: args.name,
          node: network.controlPlaneAddresses.apply((a) => a[0]!),
          talosconfig: this.talosconfig,
          identity: [args.name, this.secrets.etcdCa.certPem],
        },
        { parent: this, dependsOn: [...this.controlPlane.slice(0, INITIAL_QUORUM), ...this.loadBalancers] },
      );
    }

    let cni: pulumi.Resource | undefined;
    if (args.kubernetes) {
      const base = kubernetesBase(scope, this.kubeconfig, this.bootstrap ? [this.bootstrap] : this.controlPlane);
      this.kubernetesProvider = base.provider;
      cni = base.cni;
    }

    if (this.bootstrap) {
      this.rolloutSteps(
        {
          clusterName: args.name,
          talosconfig: this.talosconfig,
          controlPlaneAddresses: network.controlPlaneAddresses,
          workerAddresses: network.workerAddresses,
          talosVersion: args.talosVersion,
          kubernetesVersion: args.kubernetesVersion,
          after: [this.bootstrap, ...(cni ? [cni] : [])],
          parent: this,
        },
        { ...nodes, controlPlaneCount: network.controlPlanePorts.length, workerBatchSize: args.workerBatchSize ?? 1 },
      );
    }

    this.registerOutputs({
      endpoint: this.endpoint,
      kubeconfig: this.kubeconfig,
      talosconfig: this.talosconfig,
    });
  }

  /**
   * The day 2 steps (components/cluster/rollout.ts), wired in this order:
   * Talos upgrades wave by wave (a control-plane node past the initial
   * quorum is created only after the previous node's gate), the Kubernetes
   * upgrade once, then the config applies wave by wave.
   */
  private rolloutSteps(common: RolloutCommon, w: RolloutWiring): void {
    const nodeName = (role: "controlplane" | "worker", index: number) =>
      `${common.clusterName}-${role === "controlplane" ? "cp" : "worker"}-${index}`;
    const addresses = (role: "controlplane" | "worker") =>
      pulumi.output(role === "controlplane" ? common.controlPlaneAddresses : common.workerAddresses);
    const target = (role: "controlplane" | "worker", index: number, instance: pulumi.Resource): RolloutNodeTarget => ({
      role,
      index,
      name: nodeName(role, index),
      address: addresses(role).apply((a) => a[index]!),
      instance,
    });
    const cpInstances: openstack.compute.Instance[] = [...this.controlPlane];
    const waves = rolloutWaves({ controlPlane: w.controlPlaneCount, worker: this.workers.length }, w.workerBatchSize);
    const instanceOf = (role: "controlplane" | "worker", index: number) =>
      role === "controlplane" ? cpInstances[index]! : this.workers[index]!;

    const upgrades = chainWaves(waves, [], (node, after) => {
      if (node.role === "controlplane" && w.joinLater(node.index)) {
        const instance = w.createControlPlane(node.index, { dependsOn: after });
        cpInstances[node.index] = instance;
        this.controlPlane.push(instance);
      }
      return talosUpgradeStep(common, target(node.role, node.index, instanceOf(node.role, node.index)), after);
    });
    const kubernetes = kubernetesUpgradeStep(common, target("controlplane", 0, cpInstances[0]!), upgrades.at(-1) ?? []);
    const applies = chainWaves(waves, [kubernetes], (node, after) =>
      applyConfigStep(
        common,
        target(node.role, node.index, instanceOf(node.role, node.index)),
        node.role === "controlplane" ? w.controlPlaneUserData : w.workerUserData,
        node.role === "controlplane" ? w.controlPlaneEvidence : undefined,
        after,
      ),
    );
    this.rollout.push(...upgrades.flat(), kubernetes, ...applies.flat());
  }
}

type RolloutWiring = Pick<
  TalosNodes,
  "joinLater" | "createControlPlane" | "controlPlaneUserData" | "workerUserData" | "controlPlaneEvidence"
> & {
  controlPlaneCount: number;
  workerBatchSize: number;
};
