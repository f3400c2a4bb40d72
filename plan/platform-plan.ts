/**
 * The pure plan: from validated config and the committed address plan to the
 * sites, clusters and rule tables one environment deploys. No Pulumi here.
 */
import type { NodeCounts, PlatformConfig, SiteConfig } from "../config/schema";
import { foreignSupernets, type AddressPlan, type EnvironmentName } from "./address-plan";
import { siteSecurityTable, type ClusterId, type SiteSecurityTable } from "./security-rules";
import { CLUSTER_ID, clusterName, type ClusterRole } from "./cluster-names";
import {
  deployRunnerAddresses,
  deployRunnerNames,
  deployRunnerSiteRules,
  withDeployRunnerRules,
  type DeployRunnerPlan,
} from "./deploy-runners";

/** Head addresses of each site subnet that DHCP never hands out (components/site-network). */
export const PLANNED_RESERVED_HEAD = 16;

export type { ClusterRole } from "./cluster-names";

export interface ClusterPlan {
  id: ClusterId;
  role: ClusterRole;
  /** Globally unique, e.g. `production-osl2-ops`. */
  name: string;
  site: string;
  nodes: NodeCounts;
}

export interface SitePlan {
  name: string;
  /** Prefix of every resource name in this site, e.g. `production-osl2`. */
  prefix: string;
  config: SiteConfig;
  subnet: string;
  clusters: ClusterPlan[];
  security: SiteSecurityTable;
}

export interface PlatformPlan {
  environment: EnvironmentName;
  opsSite: string;
  sites: SitePlan[];
  clusters: ClusterPlan[];
  /** The environment's own supernet. */
  supernet: string;
  /** Every other environment's supernet: nothing of ours may admit them. */
  foreignSupernets: string[];
  /** CIDR sources any rule may name, besides named exceptions. */
  allowedSourceCidrs: string[];
  /** Absent when the stack declares no runners (layers.clusters off). */
  deployRunner?: DeployRunnerPlan;
}

export function buildPlatformPlan(config: PlatformConfig, addressPlan: AddressPlan): PlatformPlan {
  const environment = config.environment;
  const ownAddresses = addressPlan.environments[environment];
  const foreign = foreignSupernets(addressPlan, environment);
  const opsSite = config.clusters.ops.site;
  const opsSiteSubnet = ownAddresses.sites[opsSite]!;
  const deployRunner: DeployRunnerPlan | undefined = config.runners
    ? {
        ...deployRunnerNames(environment),
        site: opsSite,
        prefix: `${environment}-${opsSite}-deploy-runner`,
        addresses: deployRunnerAddresses({
          subnet: opsSiteSubnet,
          count: config.runners.count,
          reservedHead: PLANNED_RESERVED_HEAD,
          taken: config.sites[opsSite]?.dnsNameservers ?? [],
        }),
      }
    : undefined;

  const withRunnerRules = (site: string, clusters: ClusterPlan[], table: SiteSecurityTable) =>
    deployRunner
      ? withDeployRunnerRules(
          table,
          deployRunnerSiteRules({
            clusters: clusters.map((c) => c.id),
            runnersInSite: site === deployRunner.site,
            runnerAddresses: deployRunner.addresses,
          }),
        )
      : table;

  const sites = Object.entries(config.sites)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, site]): SitePlan => {
      const prefix = `${environment}-${name}`;
      const clusters: ClusterPlan[] = [];
      if (name === opsSite) {
        clusters.push({
          id: CLUSTER_ID.ops,
          role: "ops",
          name: clusterName(environment, name, "ops"),
          site: name,
          nodes: config.clusters.ops.nodes,
        });
      }
      clusters.push({
        id: CLUSTER_ID.management,
        role: "management",
        name: clusterName(environment, name, "management"),
        site: name,
        nodes: site.nodes,
      });
      return {
        name,
        prefix,
        config: site,
        subnet: ownAddresses.sites[name]!,
        clusters,
        security: withRunnerRules(
          name,
          clusters,
          siteSecurityTable({
            clusters: clusters.map((c) => c.id),
            opsInSite: name === opsSite,
            opsSiteSubnet,
            otherSiteSubnets: Object.entries(ownAddresses.sites)
              .filter(([other]) => other !== name && other in config.sites)
              .map(([, cidr]) => cidr),
            adminCidrs: config.access.adminCidrs,
            publicExceptions: config.access.publicExceptions,
            foreignSupernets: foreign,
          }),
        ),
      };
    });

  return {
    environment,
    opsSite,
    sites,
    clusters: sites.flatMap((s) => s.clusters),
    supernet: ownAddresses.supernet,
    foreignSupernets: foreign,
    allowedSourceCidrs: [ownAddresses.supernet, ...config.access.adminCidrs],
    ...(deployRunner ? { deployRunner } : {}),
  };
}
