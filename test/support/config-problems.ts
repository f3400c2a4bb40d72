import { ConfigError, loadPlatformConfig, readAddressPlan, type ConfigProblem } from "../../config/load";
import type { AddressPlan } from "../../plan/address-plan";
import { readStackFile } from "../../config/stack-file";
import { variantFile, type StackConfig } from "./stacks";

let addressPlan: AddressPlan | undefined;

/**
 * The problems the config loader reports for a committed stack file changed
 * by `edit` (an operator's edit of one key); [] when it loads.
 */
export function configProblemsOf(stack: string, edit: (config: StackConfig) => void): ConfigProblem[] {
  const file = variantFile(stack, edit);
  addressPlan ??= readAddressPlan();
  try {
    loadPlatformConfig(readStackFile(file, stack), addressPlan);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}
