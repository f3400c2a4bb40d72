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
import { PLATFORM_INGEST_PORT } from "../plan/security-rules";
import { AUDIT_INGEST_PORT, JUMPHOST_GROUPS, portGroups, type GroupKey } from "../plan/security-rules";
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
    const floatingIpPool = (wanted: boolean) => (wanted ? siteConfig.externalNetworkName : undefined);
    const addresses = siteClusterAddresses({
      subnet: site.plan.subnet,
      clusters: site.plan.clusters.map((c) => c.id),
      reservedHead: RESERVED_HEAD_ADDRESSES,
      taken: siteConfig.dnsNameservers,
    });

    new JumpHost(`${site.plan.prefix}-jumphost`, {
      prefix: site.plan.prefix,
      region: siteConfig.region,
      availabilityZone: siteConfig.availabilityZones[0]!,
      networkId: network.network.id,
      subnetId: network.subnet.id,
      securityGroupIds: groupIds(JUMPHOST_GROUPS),
      imageId: siteConfig.jumpHostImageId,
      flavor: siteConfig.flavors.jumpHost,
      ...(siteConfig.keyPair ? { keyPair: siteConfig.keyPair } : {}),
      ...(siteConfig.floatingIps.jumpHost ? { floatingIpPool: floatingIpPool(true)! } : {}),
      provider,
      tags,
    });

    for (const cluster of site.plan.clusters) {
      const component = new Cluster(cluster.name, {
        name: cluster.name,
        role: cluster.role,
        clusterId: cluster.id,
        region: siteConfig.region,
        networkId: network.network.id,
        subnetId: network.subnet.id,
        subnetCidr: site.plan.subnet,
        availabilityZones: siteConfig.availabilityZones,
        nodes: cluster.nodes,
        flavors: siteConfig.flavors,
        talosImageId: siteConfig.talosImageId,
        loadBalancerImageId: siteConfig.jumpHostImageId,
        ...(siteConfig.keyPair ? { keyPair: siteConfig.keyPair } : {}),
        addresses: addresses[cluster.id],
        securityGroupIds: {
          controlPlane: groupIds(portGroups(cluster.id, "controlplane")),
          worker: groupIds(portGroups(cluster.id, "worker")),
          loadBalancer: groupIds(portGroups(cluster.id, "loadbalancer")),
        },
        ...(siteConfig.floatingIps.loadBalancers ? { floatingIpPool: floatingIpPool(true)! } : {}),
        talosVersion: config.clusters.talosVersion,
        kubernetesVersion: config.clusters.kubernetesVersion,
        ciliumChartVersion: config.clusters.ciliumChartVersion,
        oidc: {
          issuer: config.zitadel.issuer,
          clientId: config.zitadel.kubernetesClientId,
          groupsClaim: config.zitadel.groupsClaim,
          groupsPrefix: config.zitadel.groupsPrefix,
          usernamePrefix: config.zitadel.groupsPrefix,
          requireMfa: config.zitadel.requireMfa,
        },
        protect: config.protection.statefulResources,
        bootstrap: config.layers.bootstrap,
        workerBatchSize: config.rollout?.workerBatchSize ?? 1,
        kubernetes: config.layers.kubernetes,
        provider,
        tags,
        ...(cluster.role === "ops"
          ? { workerPassthrough: [{ name: "audit-ingest", port: AUDIT_INGEST_PORT }, { name: "platform-ingest", port: PLATFORM_INGEST_PORT }] }
          : {}),
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
    clusters.map((c) => [c.plan.name, {
      role: c.plan.role,
      site: c.plan.site,
      endpoint: c.endpoint,
      kubeconfig: pulumi.secret(c.kubeconfig),
      talosconfig: pulumi.secret(c.talosconfig),
      nodeAddresses: c.nodeAddresses,
    }]),
  );
}
