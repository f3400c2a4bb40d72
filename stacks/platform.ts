import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import { SiteNetwork } from "../components/site-network";
import type { LoadedConfig } from "../config/load";
import { buildPlatformPlan, type PlatformPlan } from "../plan/platform-plan";
import type { DeployedSite } from "./contracts";

export interface SiteOutputs {
  region: string;
  subnet: string;
  networkId: pulumi.Output<string>;
  subnetId: pulumi.Output<string>;
  securityGroupIds: Record<string, pulumi.Output<string>>;
}

export interface PlatformOutputs {
  environment: string;
  supernet: string;
  opsSite: string;
  sites: Record<string, SiteOutputs>;
}

/**
 * One environment: everything a stack deploys, from validated config. The
 * same function runs under `pulumi up`, under the offline synth and in tests.
 */
export function deployPlatform(loaded: LoadedConfig): PlatformOutputs {
  const plan: PlatformPlan = buildPlatformPlan(loaded.config, loaded.addressPlan);
  const sites: Record<string, SiteOutputs> = {};
  const deployedSites: DeployedSite[] = [];

  for (const site of plan.sites) {
    // One provider per site: each site is its own region, possibly its own
    // clouds.yaml entry. Credentials come from OS_* or clouds.yaml only.
    // delayedAuth keeps preview free of any call to the cloud.
    const provider = new openstack.Provider(`${site.prefix}-openstack`, {
      region: site.config.region,
      ...(site.config.cloud ? { cloud: site.config.cloud } : {}),
      delayedAuth: true,
    });

    const network = new SiteNetwork(site.prefix, {
      prefix: site.prefix,
      region: site.config.region,
      cidr: site.subnet,
      externalNetworkId: site.config.externalNetworkId,
      dnsNameservers: site.config.dnsNameservers,
      security: site.security,
      provider,
      tags: [`environment:${plan.environment}`, `site:${site.name}`, "managed-by:ske-platform"],
    });

    deployedSites.push({ plan: site, provider, network });
    sites[site.name] = {
      region: site.config.region,
      subnet: site.subnet,
      networkId: network.network.id,
      subnetId: network.subnet.id,
      securityGroupIds: Object.fromEntries(
        Object.entries(network.securityGroups).map(([key, group]) => [key, group.id]),
      ),
    };
  }

  return { environment: plan.environment, supernet: plan.supernet, opsSite: plan.opsSite, sites };
}
