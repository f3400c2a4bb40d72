/**
 * Reads and validates openstack-projects.yaml, and checks a stack's sites
 * against it. Kept apart from load.ts so that the address plan and the
 * project plan evolve independently; errors use the same ConfigError.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { placedProjects, projectPlanProblems, projectPlanSchema, type ProjectPlan } from "../plan/project-plan";
import { writerProjectClashes } from "./archive-writers";
import { ConfigError, REPO_ROOT, zodProblems, type ConfigProblem, type RawStackConfig } from "./load";
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
  const label = path.basename(file);
  let raw: unknown;
  try {
    raw = parseYaml(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new ConfigError([{ file: label, key: "(file)", message: `cannot read: ${(err as Error).message}` }]);
  }
  return validateProjectPlan(raw, label);
}

export function validateProjectPlan(raw: unknown, file = "openstack-projects.yaml"): ProjectPlan {
  const parsed = projectPlanSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(zodProblems(parsed.error, file, "", projectPlanSchema));
  const problems = projectPlanProblems(parsed.data).map((p) => ({ file, key: p.path, message: p.message }));
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed.data;
}

/** Every site a stack deploys needs its environment's project declared. */
export function stackProjectProblems(config: PlatformConfig, raw: RawStackConfig, plan: ProjectPlan, projectsFile = path.basename(projectPlanFile())): ConfigProblem[] {
  const env = config.environment;
  const declared = plan.environments[env];
  return Object.keys(config.sites)
    .filter((site) => declared[site] === undefined)
    .map((site) => ({
      file: raw.file,
      key: `${CONFIG_NAMESPACE}:sites.${site}`,
      message: `${projectsFile} declares no OpenStack project for ${env}/${site}; declared sites of ${env}: ${Object.keys(declared).join(", ")}`,
    }))
    .concat(writerProjectClashes(config, placedProjects(plan), projectsFile).map((p) => ({ file: raw.file, key: `${CONFIG_NAMESPACE}:${p.key}`, message: p.message })));
}
