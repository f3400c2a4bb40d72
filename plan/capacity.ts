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
      useImage(input.runners.imageId ?? cfg.jumpHostImageId, input.runners.imageId ? "runners.imageId" : `${s}.jumpHostImageId`);
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

export interface FlavorSize {
  vcpus: number;
  ramMb: number;
}

/** vCPU and RAM of a site's instances, once each flavor's size is known. */
export function computeNeeds(req: SiteRequirements, sizes: ReadonlyMap<string, FlavorSize>): { cores: number; ramMb: number } {
  let cores = 0;
  let ramMb = 0;
  for (const use of req.flavors) {
    const size = sizes.get(use.flavor);
    if (!size) continue;
    cores += use.instances * size.vcpus;
    ramMb += use.instances * size.ramMb;
  }
  return { cores, ramMb };
}

/** A quota as the cloud states it; a limit of -1 is unlimited. `used` is absent where no data source reports it. */
export interface QuotaFact {
  limit: number;
  used?: number;
}

/** What the pre-flight learned about one site, as plain data. */
export interface SiteFacts {
  /** Per flavor name: its size, or undefined when the region has no such flavor. */
  flavors: ReadonlyMap<string, FlavorSize | undefined>;
  /** IDs of the active images the project sees in the region. */
  activeImageIds: ReadonlySet<string>;
  availabilityZones: readonly string[];
  /** undefined: no network with that ID in the region. */
  externalNetwork: { external: boolean } | undefined;
  /**
   * Ports in the project that carry this site's tags: any means the site is
   * already deployed, so what is in use is (by the project's declared
   * separation) this environment's own, and the plan must fit the limit.
   */
  ownPorts: number;
  quotas: {
    instances: QuotaFact;
    cores: QuotaFact;
    ramMb: QuotaFact;
    serverGroups: QuotaFact;
    /** Per server group; Nova's limit needs no usage. */
    serverGroupMembers: number;
    ports: QuotaFact;
    securityGroups: QuotaFact;
    securityGroupRules: QuotaFact;
    floatingIps: QuotaFact;
    networks: QuotaFact;
    subnets: QuotaFact;
    routers: QuotaFact;
  };
}

type QuotaName = Exclude<keyof SiteFacts["quotas"], "serverGroupMembers">;

const QUOTA_LABEL: Record<QuotaName, string> = {
  instances: "instances",
  cores: "cores",
  ramMb: "RAM (MiB)",
  serverGroups: "server groups",
  ports: "ports",
  securityGroups: "security groups",
  securityGroupRules: "security-group rules",
  floatingIps: "floating IPs",
  networks: "networks",
  subnets: "subnets",
  routers: "routers",
};

/**
 * Every reason the site's project cannot take the plan, each naming the
 * config key behind it (or `project quota:`). Empty: the plan fits.
 */
export function siteProblems(req: SiteRequirements, facts: SiteFacts): string[] {
  const s = `sites.${req.site}`;
  const problems: string[] = [];
  const sizes = new Map<string, FlavorSize>();
  for (const use of req.flavors) {
    const size = facts.flavors.get(use.flavor);
    if (size) {
      sizes.set(use.flavor, size);
      continue;
    }
    for (const key of use.keys) problems.push(`${key}: flavor "${use.flavor}" not found in region ${req.region}`);
  }
  for (const image of req.images) {
    if (facts.activeImageIds.has(image.imageId)) continue;
    for (const key of image.keys) problems.push(`${key}: image ${image.imageId} not found or not active in region ${req.region}`);
  }
  if (!facts.externalNetwork) {
    problems.push(`${s}.externalNetworkId: network ${req.externalNetworkId} not found in region ${req.region}`);
  } else if (!facts.externalNetwork.external) {
    problems.push(`${s}.externalNetworkId: network ${req.externalNetworkId} is not an external network (router:external is false)`);
  }
  req.availabilityZones.forEach((zone, i) => {
    if (!facts.availabilityZones.includes(zone)) {
      problems.push(`${s}.availabilityZones[${i}]: availability zone "${zone}" not found in region ${req.region} (available: ${facts.availabilityZones.join(", ") || "none"})`);
    }
  });

  const { cores, ramMb } = computeNeeds(req, sizes);
  const needs: Record<QuotaName, number> = {
    instances: req.counts.instances,
    cores,
    ramMb,
    serverGroups: req.counts.serverGroups,
    ports: req.counts.ports,
    securityGroups: req.counts.securityGroups,
    securityGroupRules: req.counts.securityGroupRules,
    floatingIps: req.counts.floatingIps,
    networks: req.counts.networks,
    subnets: req.counts.subnets,
    routers: req.counts.routers,
  };
  const deployed = facts.ownPorts > 0;
  for (const name of Object.keys(QUOTA_LABEL) as QuotaName[]) {
    const problem = quotaProblem(QUOTA_LABEL[name], needs[name], facts.quotas[name], deployed);
    if (problem) problems.push(problem);
  }
  const memberLimit = facts.quotas.serverGroupMembers;
  for (const group of req.serverGroups) {
    if (memberLimit >= 0 && group.members > memberLimit) {
      problems.push(`${group.key ?? "project quota"}: server group ${group.name} needs ${group.members} members, project quota allows ${memberLimit} per group`);
    }
  }
  return problems;
}

/**
 * The first deployment of a site must fit what is free; once the site is
 * deployed its own resources are part of what is in use, so the whole plan
 * must fit the limit instead. Where no data source reports usage, only the
 * limit can be checked, and the message says so.
 */
function quotaProblem(label: string, need: number, fact: QuotaFact, deployed: boolean): string | undefined {
  if (fact.limit < 0 || need === 0) return undefined;
  if (fact.used === undefined || deployed) {
    if (need <= fact.limit) return undefined;
    const why = fact.used === undefined ? "usage is not reported through the provider" : "the site is deployed, so its own resources already count";
    return `project quota: ${label} limit ${fact.limit}, plan needs ${need} in all (${why})`;
  }
  const free = Math.max(0, fact.limit - fact.used);
  return need <= free ? undefined : `project quota: ${label} ${free} free, plan needs ${need}`;
}

/** The one refusal: every problem, grouped by site. */
export function preflightMessage(environment: string, problems: ReadonlyArray<{ site: string; region: string; project: string; problems: string[] }>): string {
  const total = problems.reduce((n, p) => n + p.problems.length, 0);
  const lines = [`Refusing to deploy ${environment}: pre-flight found ${total} problem${total === 1 ? "" : "s"}; the cloud cannot take this plan.`];
  for (const site of problems) {
    if (site.problems.length === 0) continue;
    lines.push(`  ${site.site} (region ${site.region}, project ${site.project}):`);
    for (const p of site.problems) lines.push(`    - ${p}`);
  }
  lines.push("Fix the config keys named above or raise the project's quota; no resource was registered.");
  return lines.join("\n");
}

/** Requirements as a Markdown section (synth's capacity.md and its summary). */
export function renderRequirements(environment: string, reqs: readonly SiteRequirements[], preflight: string): string {
  const lines: string[] = [`# Capacity: ${environment}`, "", preflight, ""];
  lines.push("| site | region | instances | ports | security groups | rules | server groups | floating IPs | networks | subnets | routers |");
  lines.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of reqs) {
    const c = r.counts;
    lines.push(`| ${r.site} | ${r.region} | ${c.instances} | ${c.ports} | ${c.securityGroups} | ${c.securityGroupRules} | ${c.serverGroups} | ${c.floatingIps} | ${c.networks} | ${c.subnets} | ${c.routers} |`);
  }
  for (const r of reqs) {
    lines.push("", `## ${r.site} (region ${r.region})`, "");
    if (r.flavors.length === 0) {
      lines.push("No instances (the clusters layer is off).");
    } else {
      lines.push("vCPU and RAM are the flavors' sizes times these counts; the sizes are the cloud's, looked up by pre-flight.", "");
      lines.push("| flavor | instances | config keys |", "| --- | ---: | --- |");
      for (const f of r.flavors) lines.push(`| ${f.flavor} | ${f.instances} | ${f.keys.join(", ")} |`);
      lines.push("", "| server group | members | from |", "| --- | ---: | --- |");
      for (const g of r.serverGroups) lines.push(`| ${g.name} | ${g.members} | ${g.key ?? "the HAProxy pair, always 2"} |`);
      lines.push("", `Images: ${r.images.map((i) => `${i.imageId} (${i.keys.join(", ")})`).join("; ")}.`);
    }
    lines.push(`Availability zones: ${r.availabilityZones.join(", ") || "none needed"}. External network: ${r.externalNetworkId}.`);
  }
  return `${lines.join("\n")}\n`;
}
