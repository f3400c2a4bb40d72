/**
 * What config says about one cluster and one site's jump host, as plain data:
 * everything the Cluster and JumpHost components take apart from the Pulumi
 * handles (network, subnet, security group ids, provider) the stack adds.
 * Pure, so the mapping is tested without Pulumi's mocks.
 */
import type { PlatformConfig } from "../config/schema";
import type { ClusterAddresses } from "./cluster-addresses";
import type { ClusterPlan, SitePlan } from "./platform-plan";
import { AUDIT_INGEST_PORT, JUMPHOST_GROUPS, PLATFORM_INGEST_PORT, portGroups, type GroupKey } from "./security-rules";

/** Tags on every OpenStack resource of a site. */
export { siteTags } from "./site-tags";

/** The kube-apiserver's OIDC settings: Zitadel, with user names prefixed like groups so no token names a `system:` user. */
export function clusterOidc(config: PlatformConfig) {
  return {
    issuer: config.zitadel.issuer,
    clientId: config.zitadel.kubernetesClientId,
    groupsClaim: config.zitadel.groupsClaim,
    groupsPrefix: config.zitadel.groupsPrefix,
    usernamePrefix: config.zitadel.groupsPrefix,
    requireMfa: config.zitadel.requireMfa,
  };
}

/** Ports the ops cluster's HAProxy pair forwards to its workers: the audit and platform ingest gateways. */
export const OPS_WORKER_PASSTHROUGH: readonly { name: string; port: number }[] = [
  { name: "audit-ingest", port: AUDIT_INGEST_PORT },
  { name: "platform-ingest", port: PLATFORM_INGEST_PORT },
];

/** The security groups (by key) of each node role's ports. */
export function clusterGroupKeys(cluster: ClusterPlan): {
  controlPlane: GroupKey[];
  worker: GroupKey[];
  loadBalancer: GroupKey[];
} {
  return {
    controlPlane: portGroups(cluster.id, "controlplane"),
    worker: portGroups(cluster.id, "worker"),
    loadBalancer: portGroups(cluster.id, "loadbalancer"),
  };
}

/** The Cluster component's plain settings for one planned cluster. */
export function clusterSettings(
  config: PlatformConfig,
  site: SitePlan,
  cluster: ClusterPlan,
  addresses: Readonly<Record<ClusterPlan["id"], ClusterAddresses>>,
) {
  const siteConfig = site.config;
  return {
    name: cluster.name,
    role: cluster.role,
    clusterId: cluster.id,
    region: siteConfig.region,
    subnetCidr: site.subnet,
    availabilityZones: siteConfig.availabilityZones,
    nodes: cluster.nodes,
    flavors: siteConfig.flavors,
    talosImageId: siteConfig.talosImageId,
    // The HAProxy pair runs on the plain cloud image the jump host uses.
    loadBalancerImageId: siteConfig.jumpHostImageId,
    ...(siteConfig.keyPair ? { keyPair: siteConfig.keyPair } : {}),
    addresses: addresses[cluster.id],
    ...(siteConfig.floatingIps.loadBalancers ? { floatingIpPool: siteConfig.externalNetworkName! } : {}),
    talosVersion: config.clusters.talosVersion,
    kubernetesVersion: config.clusters.kubernetesVersion,
    ciliumChartVersion: config.clusters.ciliumChartVersion,
    oidc: clusterOidc(config),
    protect: config.protection.statefulResources,
    bootstrap: config.layers.bootstrap,
    workerBatchSize: config.rollout?.workerBatchSize ?? 1,
    kubernetes: config.layers.kubernetes,
    ...(cluster.role === "ops" ? { workerPassthrough: OPS_WORKER_PASSTHROUGH } : {}),
  };
}

/** The JumpHost component's plain settings for one site. */
export function jumpHostSettings(site: SitePlan) {
  const siteConfig = site.config;
  return {
    prefix: site.prefix,
    region: siteConfig.region,
    availabilityZone: siteConfig.availabilityZones[0]!,
    groupKeys: JUMPHOST_GROUPS,
    imageId: siteConfig.jumpHostImageId,
    flavor: siteConfig.flavors.jumpHost,
    ...(siteConfig.keyPair ? { keyPair: siteConfig.keyPair } : {}),
    ...(siteConfig.floatingIps.jumpHost ? { floatingIpPool: siteConfig.externalNetworkName! } : {}),
  };
}
