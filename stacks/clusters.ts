/**
 * The clusters layer: the ops cluster in its site, one management cluster in
 * every site, and each site's jump host.
 */
import * as pulumi from "@pulumi/pulumi";
import { Cluster, type NodeAddresses } from "../components/cluster";
import { JumpHost } from "../components/jump-host";
import type { CertificateAuthority } from "../components/talos/secrets";
import { RESERVED_HEAD_ADDRESSES } from "../components/site-network";
import type { PlatformConfig } from "../config/schema";
import { siteClusterAddresses } from "../plan/cluster-addresses";
import type { PlatformPlan } from "../plan/platform-plan";
import { siteTags } from "../plan/site-tags";
import { clusterGroupKeys, clusterSettings, jumpHostSettings } from "../plan/cluster-settings";
import type { GroupKey } from "../plan/security-rules";
import type { DeployedCluster, DeployedSite } from "./contracts";

/** What the stack outputs besides the contract: Talos access and addresses. */
export interface ClusterDeployment extends DeployedCluster {
  /** Secret. */
  talosconfig: pulumi.Output<string>;
  nodeAddresses: NodeAddresses;
  /** The Talos API CA: signs the etcd backup's snapshot-only client certificate. */
  talosCa: CertificateAuthority;
}

export interface DeployClustersArgs {
  plan: PlatformPlan;
  config: PlatformConfig;
  sites: DeployedSite[];
}

export function deployClusters({ plan, config, sites }: DeployClustersArgs): ClusterDeployment[] {
  if (!config.layers.clusters) return [];
  const deployed: ClusterDeployment[] = [];

  for (const site of sites) {
    const siteConfig = site.plan.config;
    const { network, provider } = site;
    const tags = siteTags(plan.environment, site.plan.name);
    const groupIds = (keys: readonly GroupKey[]) =>
      keys.map((key) => {
        const group = network.securityGroups[key];
        if (!group) throw new Error(`site ${site.plan.name} has no security group "${key}"`);
        return group.id;
      });
    const addresses = siteClusterAddresses({
      subnet: site.plan.subnet,
      clusters: site.plan.clusters.map((c) => c.id),
      reservedHead: RESERVED_HEAD_ADDRESSES,
      taken: siteConfig.dnsNameservers,
    });

    const { groupKeys: jumpHostGroups, ...jumpHost } = jumpHostSettings(site.plan);
    new JumpHost(`${site.plan.prefix}-jumphost`, {
      ...jumpHost,
      networkId: network.network.id,
      subnetId: network.subnet.id,
      securityGroupIds: groupIds(jumpHostGroups),
      provider,
      tags,
    });

    for (const cluster of site.plan.clusters) {
      const groupKeys = clusterGroupKeys(cluster);
      const component = new Cluster(cluster.name, {
        ...clusterSettings(config, site.plan, cluster, addresses),
        networkId: network.network.id,
        subnetId: network.subnet.id,
        securityGroupIds: {
          controlPlane: groupIds(groupKeys.controlPlane),
          worker: groupIds(groupKeys.worker),
          loadBalancer: groupIds(groupKeys.loadBalancer),
        },
        provider,
        tags,
      });

      deployed.push({
        plan: cluster,
        endpoint: component.endpoint,
        caCertificate: component.caCertificate,
        kubeconfig: component.kubeconfig,
        talosconfig: component.talosconfig,
        nodeAddresses: component.nodeAddresses,
        talosCa: component.secrets.machineCa,
        ...(component.kubernetesProvider ? { provider: component.kubernetesProvider } : {}),
      });
    }
  }
  return deployed;
}

export interface ClusterOutputs {
  role: string;
  site: string;
  endpoint: pulumi.Output<string>;
  /** Secret. */
  kubeconfig: pulumi.Output<string>;
  /** Secret. */
  talosconfig: pulumi.Output<string>;
  nodeAddresses: NodeAddresses;
}

/** Stack outputs per cluster name; credentials stay secrets. */
export function clusterOutputs(clusters: readonly ClusterDeployment[]): Record<string, ClusterOutputs> {
  return Object.fromEntries(
    clusters.map((c) => [
      c.plan.name,
      {
        role: c.plan.role,
        site: c.plan.site,
        endpoint: c.endpoint,
        kubeconfig: pulumi.secret(c.kubeconfig),
        talosconfig: pulumi.secret(c.talosconfig),
        nodeAddresses: c.nodeAddresses,
      },
    ]),
  );
}
