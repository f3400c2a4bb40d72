import * as k8s from "@pulumi/kubernetes";
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import type { NodeCounts } from "../../config/schema";
import type { ClusterAddresses } from "../../plan/cluster-addresses";
import type { ClusterRole } from "../../plan/platform-plan";
import type { ClusterId } from "../../plan/security-rules";
import { renderKubeconfig, renderTalosconfig } from "../talos/client-config";
import { auditEvidence } from "../../plan/audit-evidence";
import {
  auditPolicy,
  authenticationConfiguration,
  controlPlaneConfig,
  renderMachineConfig,
  workerConfig,
  type ClusterConfigInput,
  type MachineSecretValues,
  type OidcSettings,
} from "../talos/machine-config";
import { TalosMachineSecrets, clientCertificate } from "../talos/secrets";
import { withResources } from "../../plan/workload-resources";
import { CLIENT_CERTIFICATE_LIFETIME } from "../../plan/credential-lifetime";
import { bootstrapCommand } from "./bootstrap";
import { INITIAL_QUORUM, joinsAfter, rolloutWaves } from "../../plan/rollout";
import { applyConfigStep, chainWaves, kubernetesUpgradeStep, talosUpgradeStep, type RolloutCommon, type RolloutNodeTarget } from "./rollout";
import { metadataBlockPolicy } from "./metadata-block";
import { API_SERVER_PORT, loadBalancerCloudInit } from "./load-balancer-config";

/**
 * The group in our admin client certificate. Not `system:masters`, which
 * bypasses RBAC and cannot be revoked short of rotating the CA: this group
 * is bound to cluster-admin by a binding Talos applies at bootstrap, so
 * deleting that binding locks the certificate out. Break-glass access stays
 * with `talosctl kubeconfig`.
 */
export const ADMIN_GROUP = "ske:platform-admins";
const ADMIN_USER = "ske-platform";
const CLIENT_CERT_HOURS = CLIENT_CERTIFICATE_LIFETIME.validityHours;

export const CILIUM_REPOSITORY = "https://helm.cilium.io";

export interface ClusterArgs {
  /** Globally unique, e.g. `production-osl2-mgmt`; prefix of every resource. */
  name: string;
  role: ClusterRole;
  /** Which rule-table groups and address block the cluster uses. */
  clusterId: ClusterId;
  region: string;
  networkId: pulumi.Input<string>;
  subnetId: pulumi.Input<string>;
  subnetCidr: string;
  availabilityZones: readonly string[];
  nodes: NodeCounts;
  flavors: { controlPlane: string; worker: string; loadBalancer: string };
  talosImageId: string;
  /** A plain Debian/Ubuntu cloud image for HAProxy (the jump-host image). */
  loadBalancerImageId: string;
  keyPair?: string;
  addresses: ClusterAddresses;
  /** Security groups per node role, each already including `egress`. */
  securityGroupIds: {
    controlPlane: pulumi.Input<string>[];
    worker: pulumi.Input<string>[];
    loadBalancer: pulumi.Input<string>[];
  };
  /** External network name; set only where config asks for a floating IP on the VIP. */
  floatingIpPool?: string;
  talosVersion: string;
  kubernetesVersion: string;
  ciliumChartVersion: string;
  oidc: OidcSettings;
  /** protect + retainOnDelete on control-plane instances and machine secrets. */
  protect: boolean;
  /** Run `talosctl bootstrap`, and roll changes out to running nodes (components/cluster/rollout.ts). */
  bootstrap: boolean;
  /** Workers a roll-out touches at once (config rollout.workerBatchSize). */
  workerBatchSize?: number;
  /** Create the Kubernetes provider and install Cilium. */
  kubernetes: boolean;
  provider: openstack.Provider;
  tags: readonly string[];
  /** TCP ports the HAProxy pair also forwards to the workers (same port), e.g. the ops cluster's audit ingest. */
  workerPassthrough?: readonly { name: string; port: number }[];
}

export interface NodeAddresses {
  controlPlane: pulumi.Output<string[]>;
  workers: pulumi.Output<string[]>;
  loadBalancers: string[];
  vip: string;
  floatingIp?: pulumi.Output<string>;
}

const firstAddress = (port: openstack.networking.Port) => port.allFixedIps.apply((ips) => ips[0]!);

/**
 * One Talos cluster on OpenStack, ops or management: control plane and
 * workers on ports of the site subnet, an HAProxy pair holding the API VIP,
 * Talos configs generated from our own secrets, bootstrap, and access.
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
    const { region, provider } = args;
    const child: pulumi.CustomResourceOptions = { parent: this, provider };
    const tags = [...args.tags, `cluster:${args.name}`, `role:${args.role}`];
    const zone = (i: number) => args.availabilityZones[i % args.availabilityZones.length]!;
    const vip = args.addresses.vip;
    this.endpoint = pulumi.output(`https://${vip}:${API_SERVER_PORT}`);

    this.secrets = new TalosMachineSecrets(`${name}-secrets`, { clusterName: args.name, protect: args.protect }, { parent: this });
    this.caCertificate = this.secrets.kubernetesCa.certPem;

    // Hard anti-affinity for the etcd members and the HAProxy pair: one
    // hypervisor must never hold two of them. If the cloud cannot place them
    // apart, creation fails loudly instead of silently losing redundancy.
    // Workers only prefer to spread.
    const serverGroup = (suffix: string, policy: string) =>
      new openstack.compute.ServerGroup(`${name}-${suffix}`, { name: `${args.name}-${suffix}`, region, policies: [policy] }, child);
    const controlPlaneGroup = serverGroup("controlplane", "anti-affinity");
    const workerGroup = serverGroup("worker", "soft-anti-affinity");
    const loadBalancerGroup = serverGroup("loadbalancer", "anti-affinity");

    // The VIP is reserved by a port of its own so Neutron never hands it out.
    const vipPort = new openstack.networking.Port(`${name}-vip`, {
      name: `${args.name}-vip`,
      region,
      networkId: args.networkId,
      fixedIps: [{ subnetId: args.subnetId, ipAddress: vip }],
      securityGroupIds: args.securityGroupIds.loadBalancer,
      adminStateUp: true,
      tags,
    }, child);
    const floatingIp = args.floatingIpPool
      ? new openstack.networking.FloatingIp(`${name}-vip-fip`, {
          region,
          pool: args.floatingIpPool,
          portId: vipPort.id,
          description: `Kubernetes API of ${args.name}`,
          tags,
        }, child)
      : undefined;

    const nodePort = (suffix: string, groups: pulumi.Input<string>[]) =>
      new openstack.networking.Port(`${name}-${suffix}`, {
        name: `${args.name}-${suffix}`,
        region,
        networkId: args.networkId,
        fixedIps: [{ subnetId: args.subnetId }],
        securityGroupIds: groups,
        adminStateUp: true,
        tags,
      }, child);
    const controlPlanePorts = Array.from({ length: args.nodes.controlPlane }, (_, i) => nodePort(`cp-${i}`, args.securityGroupIds.controlPlane));
    const workerPorts = Array.from({ length: args.nodes.worker }, (_, i) => nodePort(`worker-${i}`, args.securityGroupIds.worker));
    const controlPlaneAddresses = pulumi.all(controlPlanePorts.map(firstAddress));
    const workerAddresses = pulumi.all(workerPorts.map(firstAddress));

    // ---- Talos machine configs: rendered from our secrets, secret themselves.
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
    const render = (build: (input: ClusterConfigInput, secrets: MachineSecretValues) => ReturnType<typeof workerConfig>) =>
      pulumi.secret(
        pulumi
          .all([this.secrets.values(), floatingIp ? floatingIp.address : pulumi.output(undefined)])
          .apply(([secrets, address]) => renderMachineConfig(build(configInput(address), secrets))),
      );
    const controlPlaneUserData = render(controlPlaneConfig);
    const workerUserData = render(workerConfig);

    // Talos reads user data only on first boot and keeps its config on disk;
    // a changed config is rolled out by the apply-config steps below, and a
    // new Talos version by the upgrade steps. Replacing the instance would
    // wipe etcd. The audit/OIDC evidence rides on the control-plane apply
    // steps, whose state changes only once a node runs the config; instance
    // metadata would change with the desired config alone.
    const controlPlaneEvidence = auditEvidence(auditPolicy(), authenticationConfiguration(args.oidc, args.kubernetesVersion));
    const talosInstance = (suffix: string, port: openstack.networking.Port, i: number, flavor: string, userData: pulumi.Output<string>, group: openstack.compute.ServerGroup, extra: pulumi.CustomResourceOptions) =>
      new openstack.compute.Instance(`${name}-${suffix}`, {
        name: `${args.name}-${suffix}`,
        region,
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
      }, { ...child, ...extra, ignoreChanges: ["userData", "imageId"] });

    const protection = { protect: args.protect, retainOnDelete: args.protect };
    // Nodes past the initial quorum join one at a time: each is created only
    // after the previous one passed its gate (see the roll-out below).
    const joinLater = args.bootstrap ? (i: number) => joinsAfter(i) !== undefined : () => false;
    this.controlPlane = controlPlanePorts.flatMap((port, i) => joinLater(i) ? [] : [
      talosInstance(`cp-${i}`, port, i, args.flavors.controlPlane, controlPlaneUserData, controlPlaneGroup, protection)]);
    this.workers = workerPorts.map((port, i) =>
      talosInstance(`worker-${i}`, port, i, args.flavors.worker, workerUserData, workerGroup, {}));

    // ---- HAProxy pair.
    const [lbA, lbB] = args.addresses.loadBalancers;
    this.loadBalancers = ([[lbA, lbB], [lbB, lbA]] as const).map(([self, peer], i) => {
      const port = new openstack.networking.Port(`${name}-lb-${i}`, {
        name: `${args.name}-lb-${i}`,
        region,
        networkId: args.networkId,
        fixedIps: [{ subnetId: args.subnetId, ipAddress: self }],
        // Lets this port answer for the VIP when keepalived moves it here.
        allowedAddressPairs: [{ ipAddress: vip }],
        securityGroupIds: args.securityGroupIds.loadBalancer,
        adminStateUp: true,
        tags,
      }, child);
      return new openstack.compute.Instance(`${name}-lb-${i}`, {
        name: `${args.name}-lb-${i}`,
        region,
        availabilityZone: zone(i),
        flavorName: args.flavors.loadBalancer,
        imageId: args.loadBalancerImageId,
        ...(args.keyPair ? { keyPair: args.keyPair } : {}),
        networks: [{ port: port.id }],
        userData: pulumi.all([controlPlaneAddresses, workerAddresses]).apply(([addresses, workers]) => loadBalancerCloudInit({
          clusterName: args.name,
          vip,
          subnet: args.subnetCidr,
          self,
          peer,
          primary: i === 0,
          virtualRouterId: args.addresses.virtualRouterId,
          controlPlaneAddresses: addresses,
          passthrough: (args.workerPassthrough ?? []).map((service) => ({ ...service, backends: workers })),
        })),
        schedulerHints: [{ group: loadBalancerGroup.id }],
        metadata: { cluster: args.name, role: "loadbalancer" },
        tags,
      }, { ...child, dependsOn: [vipPort] });
    });

    // ---- Access, built from our own CAs: nothing is fetched from the cluster.
    const admin = clientCertificate(`${name}-admin`, {
      ca: this.secrets.kubernetesCa,
      algorithm: "ECDSA",
      commonName: ADMIN_USER,
      organization: ADMIN_GROUP,
      validityHours: CLIENT_CERT_HOURS,
    }, { parent: this });
    this.kubeconfig = pulumi.secret(
      pulumi.all([this.secrets.kubernetesCa.certPem, admin.certPem, admin.keyPem]).apply(([caCertPem, clientCertPem, clientKeyPem]) =>
        renderKubeconfig({ clusterName: args.name, endpoint: `https://${vip}:${API_SERVER_PORT}`, user: ADMIN_USER, caCertPem, clientCertPem, clientKeyPem })),
    );

    const talosAdmin = clientCertificate(`${name}-talos-admin`, {
      ca: this.secrets.machineCa,
      algorithm: "ED25519",
      commonName: ADMIN_USER,
      // Talos API roles travel in the certificate's organization.
      organization: "os:admin",
      validityHours: CLIENT_CERT_HOURS,
    }, { parent: this });
    this.talosconfig = pulumi.secret(
      pulumi.all([this.secrets.machineCa.certPem, talosAdmin.certPem, talosAdmin.keyPem, controlPlaneAddresses]).apply(
        ([caCertPem, clientCertPem, clientKeyPem, endpoints]) =>
          renderTalosconfig({ clusterName: args.name, endpoints, caCertPem, clientCertPem, clientKeyPem })),
    );

    this.nodeAddresses = {
      controlPlane: controlPlaneAddresses,
      workers: workerAddresses,
      loadBalancers: [lbA, lbB],
      vip,
      ...(floatingIp ? { floatingIp: floatingIp.address } : {}),
    };

    if (args.bootstrap) {
      this.bootstrap = bootstrapCommand(`${name}-bootstrap`, {
        clusterName: args.name,
        node: controlPlaneAddresses.apply((a) => a[0]!),
        talosconfig: this.talosconfig,
        identity: [args.name, this.secrets.etcdCa.certPem],
      }, { parent: this, dependsOn: [...this.controlPlane.slice(0, INITIAL_QUORUM), ...this.loadBalancers] });
    }

    let cni: pulumi.Resource | undefined;
    if (args.kubernetes) {
      // clusterIdentifier: a renewed admin certificate changes the kubeconfig, which must update the provider, never replace it (and everything deployed through it).
      this.kubernetesProvider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig, clusterIdentifier: args.name }, { parent: this });

      const cilium = new k8s.helm.v3.Release(`${name}-cilium`, {
        name: "cilium",
        chart: "cilium",
        version: args.ciliumChartVersion,
        repositoryOpts: { repo: CILIUM_REPOSITORY },
        namespace: "kube-system",
        values: withResources("cilium", ciliumValues(vip)),
        // Nodes stay NotReady until Cilium runs; give it time to roll out.
        timeout: 900,
      }, {
        parent: this,
        provider: this.kubernetesProvider,
        dependsOn: this.bootstrap ? [this.bootstrap] : this.controlPlane,
      });
      cni = cilium;

      // Cilium brings the CRD; the policy waits for the release.
      const block = metadataBlockPolicy();
      new k8s.apiextensions.CustomResource(`${name}-deny-instance-metadata`, {
        apiVersion: block.apiVersion,
        kind: block.kind,
        metadata: block.metadata,
        spec: block.spec,
      }, { parent: this, provider: this.kubernetesProvider, dependsOn: [cilium] });
    }

    if (this.bootstrap) {
      this.rolloutSteps({
        clusterName: args.name,
        talosconfig: this.talosconfig,
        controlPlaneAddresses,
        workerAddresses,
        talosVersion: args.talosVersion,
        kubernetesVersion: args.kubernetesVersion,
        after: [this.bootstrap, ...(cni ? [cni] : [])],
        parent: this,
      }, {
        controlPlanePorts,
        joinLater,
        createControlPlane: (i, opts) => talosInstance(`cp-${i}`, controlPlanePorts[i]!, i, args.flavors.controlPlane, controlPlaneUserData, controlPlaneGroup, { ...protection, ...opts }),
        controlPlaneUserData,
        workerUserData,
        controlPlaneEvidence,
        workerBatchSize: args.workerBatchSize ?? 1,
      });
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
    const nodeName = (role: "controlplane" | "worker", index: number) => `${common.clusterName}-${role === "controlplane" ? "cp" : "worker"}-${index}`;
    const addresses = (role: "controlplane" | "worker") => pulumi.output(role === "controlplane" ? common.controlPlaneAddresses : common.workerAddresses);
    const target = (role: "controlplane" | "worker", index: number, instance: pulumi.Resource): RolloutNodeTarget => ({
      role, index, name: nodeName(role, index), address: addresses(role).apply((a) => a[index]!), instance,
    });
    const cpInstances: openstack.compute.Instance[] = [...this.controlPlane];
    const waves = rolloutWaves({ controlPlane: w.controlPlanePorts.length, worker: this.workers.length }, w.workerBatchSize);
    const instanceOf = (role: "controlplane" | "worker", index: number) => (role === "controlplane" ? cpInstances[index]! : this.workers[index]!);

    const upgrades = chainWaves(waves, [], (node, after) => {
      if (node.role === "controlplane" && w.joinLater(node.index)) {
        const instance = w.createControlPlane(node.index, { dependsOn: after });
        cpInstances[node.index] = instance;
        (this.controlPlane as openstack.compute.Instance[]).push(instance);
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
      ));
    this.rollout.push(...upgrades.flat(), kubernetes, ...applies.flat());
  }
}

interface RolloutWiring {
  controlPlanePorts: openstack.networking.Port[];
  joinLater: (i: number) => boolean;
  createControlPlane: (i: number, opts: pulumi.CustomResourceOptions) => openstack.compute.Instance;
  controlPlaneUserData: pulumi.Output<string>;
  workerUserData: pulumi.Output<string>;
  controlPlaneEvidence: Record<string, string>;
  workerBatchSize: number;
}

/** Binds our admin certificate's group to cluster-admin; Talos applies it at bootstrap. */
export function adminBindingManifest(): string {
  return stringify({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "ske-platform-admins" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: ADMIN_GROUP }],
  });
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
        ciliumAgent: ["CHOWN", "KILL", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "SYS_ADMIN", "SYS_RESOURCE", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"],
        cleanCiliumState: ["NET_ADMIN", "SYS_ADMIN", "SYS_RESOURCE"],
      },
    },
  };
}
