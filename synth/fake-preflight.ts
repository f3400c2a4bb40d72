/**
 * A cloud for the pre-flight's data sources (stacks/preflight.ts) under the
 * mock runtime, one region per site. The offline synth passes none and the
 * program skips the lookups; tests pass one to see pre-flight pass or refuse
 * through the same invokes `pulumi up` makes.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { PlatformConfig } from "../config/schema";

export interface FakeRegion {
  flavors: Record<string, { vcpus: number; ram: number }>;
  activeImageIds: string[];
  availabilityZones: string[];
  /** Networks by ID, and whether each is external. */
  networks: Record<string, { external: boolean }>;
  /** Nova's absolute limits, as getLimitsV2 names them. */
  limits: {
    maxTotalInstances: number;
    totalInstancesUsed: number;
    maxTotalCores: number;
    totalCoresUsed: number;
    maxTotalRamSize: number;
    totalRamUsed: number;
    maxServerGroups: number;
    totalServerGroupsUsed: number;
    maxServerGroupMembers: number;
  };
  /** Neutron's quota, as getQuotaV2 names it. */
  quota: {
    port: number;
    securityGroup: number;
    securityGroupRule: number;
    floatingip: number;
    network: number;
    subnet: number;
    router: number;
  };
  portsInUse: number;
  /** Ports carrying the site's tags, i.e. the site is already deployed. */
  ownPorts: number;
  /** When set, getLimitsV2 is refused as Nova refuses a deployer without admin; the quota set still answers. */
  limitsForbidden?: boolean;
  /** When set, every lookup in the region fails with this (an API that does not answer). */
  unreachable?: string;
}

/** By region name. */
export type FakeCloud = Record<string, FakeRegion>;

/**
 * Answers to the pre-flight invokes from somewhere else, e.g. a real cloud's
 * APIs (test/integration/preflight-cloud.ts); undefined leaves a token to the
 * next handler.
 */
export type CloudAnswer = (
  args: pulumi.runtime.MockCallArgs,
) => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>;

export function cloudInvoke(cloud: FakeCloud | CloudAnswer): CloudAnswer {
  return typeof cloud === "function" ? cloud : preflightInvoke(cloud);
}

const TOKENS = {
  flavor: "openstack:compute/getFlavor:getFlavor",
  imageIds: "openstack:images/getImageIds:getImageIds",
  zones: "openstack:compute/getAvailabilityZones:getAvailabilityZones",
  network: "openstack:networking/getNetwork:getNetwork",
  limits: "openstack:compute/getLimitsV2:getLimitsV2",
  quotaSet: "openstack:compute/getQuotaSetV2:getQuotaSetV2",
  quota: "openstack:networking/getQuotaV2:getQuotaV2",
  portIds: "openstack:networking/getPortIds:getPortIds",
} as const;

/** The provider's own words for "nothing matched". */
const NO_RESULTS = "Your query returned no results. Please change your search criteria and try again.";

/**
 * The engine hands a failed invoke's gRPC `details` to the program as the
 * error message; the mock monitor passes the thrown error through, so it
 * carries `details` too.
 */
const invokeError = (message: string) => Object.assign(new Error(message), { details: message });

/** A mock `call` handler for the pre-flight data sources; other invokes are left to the next handler. */
export function preflightInvoke(cloud: FakeCloud) {
  return (args: pulumi.runtime.MockCallArgs): Record<string, unknown> | undefined => {
    if (!(Object.values(TOKENS) as string[]).includes(args.token)) return undefined;
    const inputs = args.inputs as Record<string, unknown>;
    const regionName = String(inputs.region);
    const region = cloud[regionName];
    if (!region) throw invokeError(`fake cloud: no region ${regionName}`);
    if (region.unreachable) throw invokeError(region.unreachable);
    const base = { id: `fake-${args.token}-${regionName}`, region: regionName };
    switch (args.token) {
      case TOKENS.flavor: {
        const flavor = region.flavors[String(inputs.name)];
        if (!flavor) throw invokeError(NO_RESULTS);
        return {
          ...base,
          name: inputs.name,
          flavorId: `flavor-${String(inputs.name)}`,
          vcpus: flavor.vcpus,
          ram: flavor.ram,
          extraSpecs: {},
        };
      }
      case TOKENS.imageIds:
        return { ...base, ids: region.activeImageIds };
      case TOKENS.zones:
        return { ...base, names: region.availabilityZones };
      case TOKENS.network: {
        const network = region.networks[String(inputs.networkId)];
        if (!network) throw invokeError(NO_RESULTS);
        return {
          ...base,
          networkId: inputs.networkId,
          external: network.external,
          allTags: [],
          availabilityZoneHints: [],
          segments: [],
          subnets: [],
        };
      }
      case TOKENS.limits:
        if (region.limitsForbidden)
          throw invokeError(
            "Error retrieving openstack_compute_limits_v2: Expected HTTP response code [200] but got 403: Policy doesn't allow os_compute_api:limits:other_project to be performed.",
          );
        return { ...base, projectId: inputs.projectId, ...region.limits };
      case TOKENS.quotaSet: {
        const l = region.limits;
        return {
          ...base,
          projectId: inputs.projectId,
          instances: l.maxTotalInstances,
          cores: l.maxTotalCores,
          ram: l.maxTotalRamSize,
          serverGroups: l.maxServerGroups,
          serverGroupMembers: l.maxServerGroupMembers,
          fixedIps: -1,
          floatingIps: -1,
          injectedFileContentBytes: -1,
          injectedFilePathBytes: -1,
          injectedFiles: -1,
          keyPairs: -1,
          metadataItems: -1,
          securityGroupRules: -1,
          securityGroups: -1,
        };
      }
      case TOKENS.quota:
        return { ...base, projectId: inputs.projectId, ...region.quota };
      case TOKENS.portIds:
        return {
          ...base,
          ids: Array.from({ length: inputs.tags ? region.ownPorts : region.portsInUse }, (_, i) => `port-${i}`),
        };
    }
    return undefined;
  };
}

const FLAVOR_SIZE = { vcpus: 4, ram: 8192 };

/**
 * A cloud in which everything the config names exists, with quotas far
 * beyond any plan: the starting point a test breaks one fact of.
 */
export function roomyCloud(config: PlatformConfig): FakeCloud {
  const cloud: FakeCloud = {};
  for (const site of Object.values(config.sites)) {
    const flavors = [...Object.values(site.flavors), ...(config.runners ? [config.runners.flavor] : [])];
    cloud[site.region] = {
      flavors: Object.fromEntries(flavors.map((f) => [f, { ...FLAVOR_SIZE }])),
      activeImageIds: [
        site.talosImageId,
        site.jumpHostImageId,
        ...(config.runners?.imageId ? [config.runners.imageId] : []),
      ],
      availabilityZones: [...site.availabilityZones],
      networks: { [site.externalNetworkId]: { external: true } },
      limits: {
        maxTotalInstances: 1000,
        totalInstancesUsed: 0,
        maxTotalCores: 10000,
        totalCoresUsed: 0,
        maxTotalRamSize: 10_000_000,
        totalRamUsed: 0,
        maxServerGroups: 100,
        totalServerGroupsUsed: 0,
        maxServerGroupMembers: 100,
      },
      quota: {
        port: 1000,
        securityGroup: 100,
        securityGroupRule: 10000,
        floatingip: 50,
        network: 10,
        subnet: 10,
        router: 10,
      },
      portsInUse: 0,
      ownPorts: 0,
    };
  }
  return cloud;
}
