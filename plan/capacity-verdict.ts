/**
 * The verdict of pre-flight: the requirements (plan/capacity.ts) against the
 * plain facts stacks/preflight.ts looked up in the cloud. Pure.
 */
import type { SiteRequirements } from "./capacity";

export interface FlavorSize {
  vcpus: number;
  ramMb: number;
}

/** vCPU and RAM of a site's instances, once each flavor's size is known. */
export function computeNeeds(
  req: SiteRequirements,
  sizes: ReadonlyMap<string, FlavorSize>,
): { cores: number; ramMb: number } {
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
    for (const key of image.keys)
      problems.push(`${key}: image ${image.imageId} not found or not active in region ${req.region}`);
  }
  if (!facts.externalNetwork) {
    problems.push(`${s}.externalNetworkId: network ${req.externalNetworkId} not found in region ${req.region}`);
  } else if (!facts.externalNetwork.external) {
    problems.push(
      `${s}.externalNetworkId: network ${req.externalNetworkId} is not an external network (router:external is false)`,
    );
  }
  req.availabilityZones.forEach((zone, i) => {
    if (!facts.availabilityZones.includes(zone)) {
      problems.push(
        `${s}.availabilityZones[${i}]: availability zone "${zone}" not found in region ${req.region} (available: ${facts.availabilityZones.join(", ") || "none"})`,
      );
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
      problems.push(
        `${group.key ?? "project quota"}: server group ${group.name} needs ${group.members} members, project quota allows ${memberLimit} per group`,
      );
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
    const why =
      fact.used === undefined
        ? "usage is not reported through the provider"
        : "the site is deployed, so its own resources already count";
    return `project quota: ${label} limit ${fact.limit}, plan needs ${need} in all (${why})`;
  }
  const free = Math.max(0, fact.limit - fact.used);
  return need <= free ? undefined : `project quota: ${label} ${free} free, plan needs ${need}`;
}
