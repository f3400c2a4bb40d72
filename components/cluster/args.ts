import type * as openstack from "@pulumi/openstack";
import type * as pulumi from "@pulumi/pulumi";
import type { NodeCounts } from "../../config/schema";
import type { ClusterAddresses } from "../../plan/cluster-addresses";
import type { ClusterRole } from "../../plan/platform-plan";
import type { ClusterId } from "../../plan/security-rules";
import type { OidcSettings } from "../talos/machine-config";

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

/** What every part of one Cluster shares: names, parent, provider, tags, zones. */
export interface ClusterScope {
  /** The component's Pulumi name, prefix of every child's Pulumi name. */
  name: string;
  args: ClusterArgs;
  parent: pulumi.Resource;
  /** Options of every OpenStack child: the component as parent, the explicit provider. */
  child: pulumi.CustomResourceOptions;
  tags: string[];
  /** Availability zone of the i-th node of a role, round robin. */
  zone: (i: number) => string;
}
