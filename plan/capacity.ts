/**
 * What one environment's plan asks of each site's OpenStack project, and
 * whether the cloud's answers leave room for it. Pure: the requirements come
 * from the plan alone (so synth can print them offline), the verdict from the
 * plan and plain facts the pre-flight looked up (stacks/preflight.ts).
 */
import type { PlatformPlan, SitePlan } from "./platform-plan";

/** Everything one site's project must hold, counted as the program registers it. */
export interface SiteCounts {
  instances: number;
  /** Every port the program creates, plus the router's interface port on the subnet. */
  ports: number;
  securityGroups: number;
  securityGroupRules: number;
  serverGroups: number;
  floatingIps: number;
  networks: number;
  subnets: number;
  routers: number;
}

export interface FlavorUse {
  flavor: string;
  instances: number;
  /** The config keys that name this flavor, e.g. `sites.sto2.flavors.worker`. */
  keys: string[];
}

export interface ImageUse {
  imageId: string;
  keys: string[];
}

export interface ServerGroupUse {
  /** The server group's name in OpenStack. */
  name: string;
  members: number;
  /** The config key its member count comes from; none for the HAProxy pair, which is always two. */
  key?: string;
}

export interface SiteRequirements {
  site: string;
  region: string;
  counts: SiteCounts;
  flavors: FlavorUse[];
  images: ImageUse[];
  serverGroups: ServerGroupUse[];
  /** `sites.<site>.availabilityZones`, in config order. */
  availabilityZones: string[];
  externalNetworkId: string;
}

export interface CapacityInput {
  plan: PlatformPlan;
  /** `layers.clusters`: off, a site holds its network and security groups only. */
  clustersLayer: boolean;
  /** `runners`, when configured: the deploy runners live in the ops site. */
  runners?: { flavor: string; imageId?: string | undefined } | undefined;
}

/** A cluster's control plane, workers and HAProxy pair, as components/cluster registers them. */
const LOAD_BALANCERS_PER_CLUSTER = 2;

export function siteRequirements(input: CapacityInput): SiteRequirements[] {
  return input.plan.sites.map((site) => oneSite(input, site));
}

function oneSite(input: CapacityInput, site: SitePlan): SiteRequirements {
  const s = `sites.${site.name}`;
  const cfg = site.config;
  const counts: SiteCounts = {
    instances: 0,
    // The router interface is a port on the site subnet, owned by the project.
    ports: 1,
    securityGroups: site.security.groups.length,
    securityGroupRules: site.security.rules.length,
    serverGroups: 0,
    floatingIps: 0,
    networks: 1,
    subnets: 1,
    routers: 1,
  };
  const flavors = new Map<string, FlavorUse>();
  const images = new Map<string, ImageUse>();
  const serverGroups: ServerGroupUse[] = [];
  const useFlavor = (flavor: string, key: string, instances: number) => {
    if (instances === 0) return;
    const entry = flavors.get(flavor) ?? { flavor, instances: 0, keys: [] };
    entry.instances += instances;
    if (!entry.keys.includes(key)) entry.keys.push(key);
    flavors.set(flavor, entry);
  };
  const useImage = (imageId: string, key: string) => {
    const entry = images.get(imageId) ?? { imageId, keys: [] };
    if (!entry.keys.includes(key)) entry.keys.push(key);
    images.set(imageId, entry);
  };
  const instances = (n: number, flavor: string, flavorKey: string) => {
    counts.instances += n;
    counts.ports += n;
    useFlavor(flavor, flavorKey, n);
  };

  if (input.clustersLayer) {
    // The jump host: one instance on one port, and a floating IP if asked.
    instances(1, cfg.flavors.jumpHost, `${s}.flavors.jumpHost`);
    useImage(cfg.jumpHostImageId, `${s}.jumpHostImageId`);
    if (cfg.floatingIps.jumpHost) counts.floatingIps += 1;

    for (const cluster of site.clusters) {
      const nodesKey = cluster.role === "ops" ? "clusters.ops.nodes" : `${s}.nodes`;
      instances(cluster.nodes.controlPlane, cfg.flavors.controlPlane, `${s}.flavors.controlPlane`);
      instances(cluster.nodes.worker, cfg.flavors.worker, `${s}.flavors.worker`);
      instances(LOAD_BALANCERS_PER_CLUSTER, cfg.flavors.loadBalancer, `${s}.flavors.loadBalancer`);
      // The VIP holds a port of its own so Neutron never hands its address out.
      counts.ports += 1;
      if (cfg.floatingIps.loadBalancers) counts.floatingIps += 1;
      useImage(cfg.talosImageId, `${s}.talosImageId`);
      useImage(cfg.jumpHostImageId, `${s}.jumpHostImageId`);
      counts.serverGroups += 3;
      serverGroups.push(
        { name: `${cluster.name}-controlplane`, members: cluster.nodes.controlPlane, key: `${nodesKey}.controlPlane` },
        { name: `${cluster.name}-worker`, members: cluster.nodes.worker, key: `${nodesKey}.worker` },
        { name: `${cluster.name}-loadbalancer`, members: LOAD_BALANCERS_PER_CLUSTER },
      );
    }

    const runner = input.plan.deployRunner;
    if (runner && input.runners && runner.site === site.name) {
      const count = runner.addresses.length;
      instances(count, input.runners.flavor, "runners.flavor");
      useImage(
        input.runners.imageId ?? cfg.jumpHostImageId,
        input.runners.imageId ? "runners.imageId" : `${s}.jumpHostImageId`,
      );
      counts.serverGroups += 1;
      serverGroups.push({ name: runner.prefix, members: count, key: "runners.count" });
    }
  }

  return {
    site: site.name,
    region: cfg.region,
    counts,
    flavors: [...flavors.values()].sort((a, b) => a.flavor.localeCompare(b.flavor)),
    images: [...images.values()],
    serverGroups,
    // Only instances are placed in zones; a site without any needs none.
    availabilityZones: counts.instances > 0 ? [...cfg.availabilityZones] : [],
    externalNetworkId: cfg.externalNetworkId,
  };
}

// Whether the cloud's answers leave room for the requirements: plan/capacity-verdict.ts.
export { computeNeeds, siteProblems, type FlavorSize, type QuotaFact, type SiteFacts } from "./capacity-verdict";
// The refusal and the report, as text: plan/capacity-report.ts.
export { preflightMessage, renderRequirements } from "./capacity-report";
