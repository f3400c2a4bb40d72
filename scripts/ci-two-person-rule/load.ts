/**
 * The inputs of the two-person check, read from the repository: the workflow
 * files, and the deployment environments the program declares for every
 * committed stack (the same plan function the GitHub component applies).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { REPO_ROOT, loadPlatformConfig, readAddressPlan } from "../../config/load";
import { ENVIRONMENTS, type EnvironmentName } from "../../plan/address-plan";
import { buildChangeManagementPlan, type EnvironmentPlan } from "../../plan/change-management";
import { checkTwoPersonRule, type Finding } from "../../plan/ci-two-person-rule";
import { readStackFile } from "../../config/stack-file";

export const WORKFLOW_DIR = path.join(REPO_ROOT, ".github", "workflows");

/** Stacks whose credentials and runners need a second person's approval. */
export const GATED_STACKS: readonly EnvironmentName[] = ENVIRONMENTS.filter((e) => e !== "test");

/** Every `*.yml`/`*.yaml` in a directory, parsed, by base name. */
export function readWorkflows(dir = WORKFLOW_DIR): Record<string, unknown> {
  const files = fs
    .readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  return Object.fromEntries(files.map((f) => [f, parse(fs.readFileSync(path.join(dir, f), "utf8"))]));
}

/**
 * The environments of the IaC repository that the committed stacks declare.
 * A stack with the GitHub layer off declares none, so a workflow naming its
 * environments is reported as using an undeclared one.
 */
export function declaredEnvironments(root = REPO_ROOT): EnvironmentPlan[] {
  const addressPlan = readAddressPlan(path.join(root, "address-plan.yaml"));
  return ENVIRONMENTS.flatMap((stack) => {
    const raw = readStackFile(path.join(root, `Pulumi.${stack}.yaml`), stack);
    const { config } = loadPlatformConfig(raw, addressPlan);
    if (!config.layers.github) return [];
    return buildChangeManagementPlan(config)
      .repositories.filter((r) => r.role === "iac")
      .flatMap((r) => r.environments);
  });
}

/**
 * What each committed stack's org runner group admits: the workflow files
 * (`runners.workflows`, each at refs/heads/main) or "any". A stack without
 * runners or without the GitHub layer declares no group.
 */
export function declaredRunnerGroups(root = REPO_ROOT): Partial<Record<EnvironmentName, readonly string[] | "any">> {
  const addressPlan = readAddressPlan(path.join(root, "address-plan.yaml"));
  return Object.fromEntries(
    ENVIRONMENTS.flatMap((stack) => {
      const raw = readStackFile(path.join(root, `Pulumi.${stack}.yaml`), stack);
      const { config } = loadPlatformConfig(raw, addressPlan);
      return config.layers.github && config.runners ? [[stack, config.runners.workflows]] : [];
    }),
  );
}

export function checkRepository(
  dir = WORKFLOW_DIR,
  environments = declaredEnvironments(),
  runnerGroups = declaredRunnerGroups(),
): Finding[] {
  return checkTwoPersonRule({ workflows: readWorkflows(dir), environments, gatedStacks: GATED_STACKS, runnerGroups });
}
