import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import { SiteNetwork } from "../components/site-network";
import type { LoadedConfig } from "../config/load";
import { buildPlatformPlan, type PlatformPlan } from "../plan/platform-plan";
import { deployChangeManagement, type ChangeManagementOutputs } from "./change-management";
import { clusterOutputs, deployClusters, type ClusterOutputs } from "./clusters";
import type { DeployedSite } from "./contracts";
import { deployGitOps, type GitOpsOutputs } from "./gitops";

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
  /** Per cluster name; empty when the clusters layer is off. */
  clusters: Record<string, ClusterOutputs>;
  /** Absent when the GitHub layer is off. */
  github?: ChangeManagementOutputs;
  /** Absent when the Kubernetes layer is off. */
  gitops?: GitOpsOutputs;
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

  const deployedClusters = deployClusters({ plan, config: loaded.config, sites: deployedSites });

  // Its deployKeyPrivatePem (a secret) is for the Argo CD layer, never a stack output.
  const changeManagement = deployChangeManagement({ plan, config: loaded.config });

  const gitops = deployGitOps({
    plan,
    config: loaded.config,
    clusters: deployedClusters,
    sites: deployedSites,
    ...(changeManagement ? { deployKeyPrivatePem: changeManagement.deployKeyPrivatePem } : {}),
  });

  return {
    environment: plan.environment,
    supernet: plan.supernet,
    opsSite: plan.opsSite,
    sites,
    clusters: clusterOutputs(deployedClusters),
    ...(changeManagement ? { github: changeManagement.outputs } : {}),
    ...(gitops ? { gitops } : {}),
  };
}
