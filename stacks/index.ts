/**
 * The program's entry point: `pulumi preview/up` and the offline synth both
 * run this module's exported function.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ADDRESS_PLAN_FILE, ConfigError, loadPlatformConfig, readAddressPlan } from "../config/load";
import { projectPlanFile, readProjectPlan, stackProjectProblems } from "../config/projects";
import { clusterApiProjectProblems } from "../config/cluster-api";
import { buildPlatformPlan } from "../plan/platform-plan";
import { deployPlatform } from "./platform";
import { checkProjectScopes, ProjectScopeError } from "./project-scope";
import { checkPreflight, PreflightError } from "./preflight";
import { siteRequirements } from "../plan/capacity";
import { isConfigSecret } from "./sdk-internals";

export = async () => {
  const stack = pulumi.getStack();
  let loaded;
  let projects;
  const values = pulumi.runtime.allConfig();
  try {
    const raw = {
      stack,
      // The synth may validate a file other than Pulumi.<stack>.yaml; errors name it.
      file: process.env.SKE_CONFIG_FILE ?? `Pulumi.${stack}.yaml`,
      values,
      secretKeys: Object.keys(values).filter(isConfigSecret),
    };
    loaded = loadPlatformConfig(
      raw,
      // Only benchmarks point this elsewhere, to plan more sites than we run.
      readAddressPlan(process.env.SKE_ADDRESS_PLAN_FILE ?? ADDRESS_PLAN_FILE),
    );
    projects = readProjectPlan();
    const problems = stackProjectProblems(loaded.config, raw, projects);
    problems.push(...clusterApiProjectProblems(loaded.config, raw, projects, path.basename(projectPlanFile())));
    if (problems.length > 0) throw new ConfigError(problems);
  } catch (err) {
    // RunError prints the message alone: the list of problems is the whole story.
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
  let providers;
  try {
    providers = await checkProjectScopes({
      plan: buildPlatformPlan(loaded.config, loaded.addressPlan),
      projects,
      projectsFile: path.basename(projectPlanFile()),
      dryRun: pulumi.runtime.isDryRun(),
    });
  } catch (err) {
    if (err instanceof ProjectScopeError) throw new pulumi.RunError(err.message);
    throw err;
  }
  const plan = buildPlatformPlan(loaded.config, loaded.addressPlan);
  try {
    await checkPreflight({
      plan,
      requirements: siteRequirements({
        plan,
        clustersLayer: loaded.config.layers.clusters,
        runners: loaded.config.runners,
      }),
      providers,
      projects,
      dryRun: pulumi.runtime.isDryRun(),
    });
  } catch (err) {
    if (err instanceof PreflightError) throw new pulumi.RunError(err.message);
    throw err;
  }
  return deployPlatform(loaded, { providers, projects });
};
