/**
 * The deploy runners of one environment, in the ops site beside the jump
 * host, and the org runner group that hands them this environment's jobs.
 */
import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { DeployRunner } from "../components/deploy-runner";
import type { PlatformConfig } from "../config/schema";
import { DEPLOY_RUNNER_PORT_GROUPS, runnerGroupWorkflows } from "../plan/deploy-runners";
import type { PlatformPlan } from "../plan/platform-plan";
import { siteTags } from "../plan/site-tags";
import type { DeployedSite } from "./contracts";

export interface DeployRunnerOutputs {
  label: string;
  runnerGroup: string;
  site: string;
  addresses: string[];
  /** Whether the registrar key is delivered, or what is still missing. */
  registration: string;
}

export function deployDeployRunners({
  plan,
  config,
  sites,
}: {
  plan: PlatformPlan;
  config: PlatformConfig;
  sites: DeployedSite[];
}): DeployRunnerOutputs | undefined {
  const runnerPlan = plan.deployRunner;
  const runners = config.runners;
  if (!config.layers.clusters || !runnerPlan || !runners) return undefined;
  const site = sites.find((s) => s.plan.name === runnerPlan.site);
  if (!site) throw new Error(`deploy runners belong in site ${runnerPlan.site}, which this stack does not deploy`);
  const siteConfig = site.plan.config;
  const registration = runners.registration;

  const runnerGroup =
    config.layers.github && registration
      ? {
          provider: new github.Provider(`${plan.environment}-deploy-runner-github`, { owner: config.github.owner }),
          repositoryId: registration.repositoryId,
          selectedWorkflows:
            runners.workflows === "any"
              ? ("any" as const)
              : runnerGroupWorkflows(config.github.owner, config.github.iacRepository, runners.workflows),
        }
      : undefined;
  const registrarKey = registration && config.runnerRegistrarKey ? pulumi.secret(config.runnerRegistrarKey) : undefined;

  new DeployRunner(runnerPlan.prefix, {
    prefix: runnerPlan.prefix,
    region: siteConfig.region,
    availabilityZones: siteConfig.availabilityZones,
    networkId: site.network.network.id,
    subnetId: site.network.subnet.id,
    addresses: runnerPlan.addresses,
    securityGroupIds: DEPLOY_RUNNER_PORT_GROUPS.map((key) => {
      const group = site.network.securityGroups[key];
      if (!group) throw new Error(`site ${site.plan.name} has no security group "${key}"`);
      return group.id;
    }),
    imageId: runners.imageId ?? siteConfig.jumpHostImageId,
    flavor: runners.flavor,
    runner: {
      organization: config.github.owner,
      runnerGroup: runnerPlan.runnerGroup,
      label: runnerPlan.label,
      ...(registration ? { app: { appId: registration.appId, installationId: registration.installationId } } : {}),
      tools: runners.tools,
    },
    ...(registrarKey ? { registrarKey } : {}),
    ...(runnerGroup ? { runnerGroup } : {}),
    provider: site.provider,
    tags: siteTags(plan.environment, site.plan.name),
  });

  return {
    label: runnerPlan.label,
    runnerGroup: runnerPlan.runnerGroup,
    site: runnerPlan.site,
    addresses: runnerPlan.addresses,
    registration: registrarKey
      ? "registrar key delivered from the jump host"
      : "waiting for runners.registration and the secret runnerRegistrarKey",
  };
}
