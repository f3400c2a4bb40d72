/**
 * Pre-flight: after the project-scope check and before any resource is
 * registered, each site's provider asks the cloud whether it can take the
 * plan: flavors, images, external network, availability zones and quotas.
 * A `pulumi up` that would stop halfway (the 20th instance over the core
 * quota, a flavor misspelt in one site) stops here instead, with one message
 * that names every problem and the config key behind it.
 *
 * Everything goes through the provider's data sources, on the checked site
 * provider, so the same credentials, region and clouds.yaml entry answer.
 */
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import {
  computeNeeds,
  preflightMessage,
  siteProblems,
  type FlavorSize,
  type QuotaFact,
  type SiteFacts,
  type SiteRequirements,
} from "../plan/capacity";
import type { PlatformPlan } from "../plan/platform-plan";
import { declaredProject, type ProjectPlan } from "../plan/project-plan";
import { siteTags } from "../plan/site-tags";

/**
 * Set only by the mock runtime (synth/mock-runtime.ts) when no fake cloud is
 * given: the offline synth has no cloud to ask. Nothing a stack file or the
 * environment says can set it, so `pulumi up` always runs the lookups.
 */
export const preflightRuntime: { offline?: string } = {};

export class PreflightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PreflightError";
  }
}

/** Data sources report a missing object as an error; these words say "not there" rather than "could not ask". */
const NOT_FOUND = /no results|not found|could not find|unable to find|404/i;

class LookupFailed extends Error {}

async function lookup<T>(what: string, ask: () => Promise<T>): Promise<T | undefined> {
  try {
    return await ask();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (NOT_FOUND.test(reason)) return undefined;
    throw new LookupFailed(`${what}: ${reason}`);
  }
}

const required = <T>(value: T | undefined, what: string): T => {
  if (value === undefined) throw new LookupFailed(`${what}: no answer`);
  return value;
};

/** A policy refusal, as Nova words it for `GET /limits?tenant_id=…` without admin. */
const FORBIDDEN = /\b403\b|forbidden|policy does not allow|policy doesn't allow/i;

/**
 * Nova's limits with usage. getLimitsV2 always names the project
 * (`/limits?tenant_id=`), which Nova's default policy leaves to admins; a
 * deployer with `member` is refused, and then the project's quota set (which
 * a member may read) gives the limits, without usage.
 */
async function computeLimits(projectId: string, region: string, opts: pulumi.InvokeOptions) {
  try {
    const l = required(
      await lookup("compute limits", () => openstack.compute.getLimitsV2({ projectId, region }, opts)),
      "compute limits",
    );
    return {
      instances: { limit: l.maxTotalInstances, used: l.totalInstancesUsed },
      cores: { limit: l.maxTotalCores, used: l.totalCoresUsed },
      ramMb: { limit: l.maxTotalRamSize, used: l.totalRamUsed },
      serverGroups: { limit: l.maxServerGroups, used: l.totalServerGroupsUsed },
      serverGroupMembers: l.maxServerGroupMembers,
    };
  } catch (err) {
    if (!(err instanceof LookupFailed) || !FORBIDDEN.test(err.message)) throw err;
  }
  const q = required(
    await lookup("compute quota set", () => openstack.compute.getQuotaSetV2({ projectId, region }, opts)),
    "compute quota set",
  );
  return {
    instances: { limit: q.instances },
    cores: { limit: q.cores },
    ramMb: { limit: q.ram },
    serverGroups: { limit: q.serverGroups },
    serverGroupMembers: q.serverGroupMembers,
  };
}

/** What the site's cloud says, through the data sources of the site's provider. */
export async function siteFacts(
  req: SiteRequirements,
  args: { provider: openstack.Provider; projectId: string; environment: string },
): Promise<SiteFacts> {
  const opts = { provider: args.provider };
  const region = req.region;
  const projectId = args.projectId;
  // A site without instances (clusters layer off) asks Nova and Glance nothing: it needs neither.
  const compute = req.counts.instances > 0 || req.counts.serverGroups > 0;
  const unlimited = { limit: -1 };
  const noCompute = {
    instances: unlimited,
    cores: unlimited,
    ramMb: unlimited,
    serverGroups: unlimited,
    serverGroupMembers: -1,
  };
  const [flavorSizes, imageIds, zones, network, limits, quota, ports, ownPorts] = await Promise.all([
    Promise.all(
      req.flavors.map(async (use) => {
        const flavor = await lookup(`flavor ${use.flavor}`, () =>
          openstack.compute.getFlavor({ name: use.flavor, region }, opts),
        );
        const size: FlavorSize | undefined = flavor ? { vcpus: flavor.vcpus ?? 0, ramMb: flavor.ram ?? 0 } : undefined;
        return [use.flavor, size] as const;
      }),
    ),
    // No image data source takes an ID; the provider lists the active images the project sees.
    req.images.length > 0 ? lookup("images", () => openstack.images.getImageIds({ region }, opts)) : undefined,
    req.availabilityZones.length > 0
      ? lookup("availability zones", () => openstack.compute.getAvailabilityZones({ region }, opts))
      : { names: [] },
    lookup(`network ${req.externalNetworkId}`, () =>
      openstack.networking.getNetwork({ networkId: req.externalNetworkId, region }, opts),
    ),
    compute ? computeLimits(projectId, region, opts) : noCompute,
    lookup("network quota", () => openstack.networking.getQuotaV2({ projectId, region }, opts)),
    lookup("ports", () => openstack.networking.getPortIds({ projectId, region }, opts)),
    lookup("the site's own ports", () =>
      openstack.networking.getPortIds({ projectId, region, tags: siteTags(args.environment, req.site) }, opts),
    ),
  ]);
  const nova = limits;
  const neutron = required(quota, "network quota");
  const limitOnly = (limit: number): QuotaFact => ({ limit });
  return {
    flavors: new Map(flavorSizes),
    activeImageIds: new Set(imageIds?.ids ?? []),
    availabilityZones: required(zones, "availability zones").names,
    externalNetwork: network ? { external: network.external === true } : undefined,
    ownPorts: ownPorts?.ids.length ?? 0,
    quotas: {
      instances: nova.instances,
      cores: nova.cores,
      ramMb: nova.ramMb,
      serverGroups: nova.serverGroups,
      serverGroupMembers: nova.serverGroupMembers,
      ports: { limit: neutron.port, used: required(ports, "ports").ids.length },
      // Neutron's usage of these has no data source; the limit still bounds the plan.
      securityGroups: limitOnly(neutron.securityGroup),
      securityGroupRules: limitOnly(neutron.securityGroupRule),
      floatingIps: limitOnly(neutron.floatingip),
      networks: limitOnly(neutron.network),
      subnets: limitOnly(neutron.subnet),
      routers: limitOnly(neutron.router),
    },
  };
}

/**
 * Runs the lookups for every site and throws one PreflightError listing every
 * problem. A lookup that fails (rather than finding nothing) refuses `up`; a
 * preview goes on with a warning, as the project-scope check does.
 */
export async function checkPreflight(args: {
  plan: PlatformPlan;
  requirements: readonly SiteRequirements[];
  providers: ReadonlyMap<string, openstack.Provider>;
  projects: ProjectPlan;
  dryRun: boolean;
  warn?: (message: string) => void;
  info?: (message: string) => void;
}): Promise<void> {
  const warn = args.warn ?? ((message: string) => void pulumi.log.warn(message));
  const info = args.info ?? ((message: string) => void pulumi.log.info(message));
  const env = args.plan.environment;
  // The offline synth reports the skip itself, beside the requirements it prints.
  if (preflightRuntime.offline !== undefined) return;
  const verdicts = await Promise.all(
    args.requirements.map(async (req) => {
      const project = declaredProject(args.projects, env, req.site);
      const provider = args.providers.get(req.site);
      const where = {
        site: req.site,
        region: req.region,
        project: project ? `${project.name} (${project.id})` : "undeclared",
      };
      if (!project || !provider) {
        return { ...where, problems: [`${env}/${req.site}: no declared project or provider to run pre-flight with`] };
      }
      try {
        const facts = await siteFacts(req, { provider, projectId: project.id, environment: env });
        const problems = siteProblems(req, facts);
        if (problems.length === 0) {
          const sizes = new Map([...facts.flavors].flatMap(([name, size]) => (size ? [[name, size] as const] : [])));
          const { cores, ramMb } = computeNeeds(req, sizes);
          info(
            `${env}/${req.site}: pre-flight passed: ${req.counts.instances} instances, ${cores} vCPU, ${ramMb} MiB RAM, ${req.counts.ports} ports fit project ${where.project}`,
          );
        }
        return { ...where, problems };
      } catch (err) {
        if (!(err instanceof LookupFailed)) throw err;
        if (args.dryRun) {
          warn(
            `${env}/${req.site}: pre-flight NOT checked in this preview (${err.message}). \`pulumi up\` refuses to run until it is.`,
          );
          return { ...where, problems: [] };
        }
        return {
          ...where,
          problems: [`pre-flight could not ask the cloud (${err.message}); nothing is deployed unchecked`],
        };
      }
    }),
  );
  if (verdicts.some((v) => v.problems.length > 0)) throw new PreflightError(preflightMessage(env, verdicts));
}
