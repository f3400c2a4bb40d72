/**
 * Reads and validates openstack-projects.yaml, and checks a stack's sites
 * against it. Kept apart from load.ts so that the address plan and the
 * project plan evolve independently; errors use the same ConfigError.
 */
import * as path from "node:path";
import { placedProjects, projectPlanProblems, projectPlanSchema, type ProjectPlan } from "../plan/project-plan";
import { writerProjectClashes } from "./archive-writers";
import { REPO_ROOT, readPlanFile, validatePlan, type ConfigProblem, type RawStackConfig } from "./load";
import { CONFIG_NAMESPACE, type PlatformConfig } from "./schema";

export const PROJECTS_FILE = path.join(REPO_ROOT, "openstack-projects.yaml");

/**
 * The project plan every stack reads. SKE_PROJECTS_FILE points elsewhere only
 * where the projects are made at run time (the integration lab) or invented
 * for load (the benchmark's generated sites).
 */
export function projectPlanFile(): string {
  return process.env.SKE_PROJECTS_FILE ?? PROJECTS_FILE;
}

export function readProjectPlan(file = projectPlanFile()): ProjectPlan {
  return readPlanFile(file, validateProjectPlan);
}

export function validateProjectPlan(raw: unknown, file = "openstack-projects.yaml"): ProjectPlan {
  return validatePlan(projectPlanSchema, projectPlanProblems, raw, file);
}

/** Every site a stack deploys needs its environment's project declared. */
export function stackProjectProblems(
  config: PlatformConfig,
  raw: RawStackConfig,
  plan: ProjectPlan,
  projectsFile = path.basename(projectPlanFile()),
): ConfigProblem[] {
  const env = config.environment;
  const declared = plan.environments[env];
  return Object.keys(config.sites)
    .filter((site) => declared[site] === undefined)
    .map((site) => ({
      file: raw.file,
      key: `${CONFIG_NAMESPACE}:sites.${site}`,
      message: `${projectsFile} declares no OpenStack project for ${env}/${site}; declared sites of ${env}: ${Object.keys(declared).join(", ")}`,
    }))
    .concat(
      writerProjectClashes(config, placedProjects(plan), projectsFile).map((p) => ({
        file: raw.file,
        key: `${CONFIG_NAMESPACE}:${p.key}`,
        message: p.message,
      })),
    );
}
