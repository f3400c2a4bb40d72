import * as openstack from "@pulumi/openstack";
import type * as pulumi from "@pulumi/pulumi";
import { SiteNetwork } from "../components/site-network";
import type { PlatformPlan, SitePlan } from "../plan/platform-plan";
import { siteTags } from "../plan/site-tags";
import type { DeployedSite } from "./contracts";

export interface SiteOutputs {
  region: string;
  subnet: string;
  networkId: pulumi.Output<string>;
  subnetId: pulumi.Output<string>;
  securityGroupIds: Record<string, pulumi.Output<string>>;
}

/**
 * One provider per site: each site is its own region, possibly its own
 * clouds.yaml entry. Credentials come from OS_* or clouds.yaml only.
 * delayedAuth keeps preview free of any call to the cloud, except the one
 * Keystone question of stacks/project-scope.ts.
 */
export function siteProvider(site: SitePlan): openstack.Provider {
  return new openstack.Provider(`${site.prefix}-openstack`, {
    region: site.config.region,
    ...(site.config.cloud ? { cloud: site.config.cloud } : {}),
    delayedAuth: true,
  });
}

/**
 * The network layer: one SiteNetwork per site, on the providers whose
 * project scope was checked (by site name), or on new ones.
 */
export function deploySites(plan: PlatformPlan, providers?: ReadonlyMap<string, openstack.Provider>): DeployedSite[] {
  return plan.sites.map((site) => {
    const provider = providers?.get(site.name) ?? siteProvider(site);

    const network = new SiteNetwork(site.prefix, {
      prefix: site.prefix,
      region: site.config.region,
      cidr: site.subnet,
      externalNetworkId: site.config.externalNetworkId,
      dnsNameservers: site.config.dnsNameservers,
      security: site.security,
      provider,
      tags: siteTags(plan.environment, site.name),
    });
    return { plan: site, provider, network };
  });
}

export function siteOutputs(sites: readonly DeployedSite[]): Record<string, SiteOutputs> {
  return Object.fromEntries(
    sites.map(({ plan, network }) => [
      plan.name,
      {
        region: plan.config.region,
        subnet: plan.subnet,
        networkId: network.network.id,
        subnetId: network.subnet.id,
        securityGroupIds: Object.fromEntries(
          Object.entries(network.securityGroups).map(([key, group]) => [key, group.id]),
        ),
      },
    ]),
  );
}
