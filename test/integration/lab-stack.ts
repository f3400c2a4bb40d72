/**
 * The `test-lab` stack: Pulumi.test-lab.yaml is a template whose external
 * network id is only known once the lab runs. Rendering writes the stack file
 * that synth (--config) and the engine (--config-file) both read.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "../../config/load";

export const LAB_STACK = "test-lab";
// From the repository root, not __dirname: scripts/run-ts.cjs runs a bundle elsewhere.
export const LAB_STACK_TEMPLATE = path.join(REPO_ROOT, "test", "integration", `Pulumi.${LAB_STACK}.yaml`);
const EXTERNAL_NETWORK_SLOT = "@LAB_EXTERNAL_NETWORK_ID@";

/** The template with the lab's values in; refuses a template without the slot. */
export function renderLabStack(template: string, externalNetworkId: string): string {
  if (!template.includes(EXTERNAL_NETWORK_SLOT)) {
    throw new Error(`${path.basename(LAB_STACK_TEMPLATE)} has no ${EXTERNAL_NETWORK_SLOT} to fill in`);
  }
  if (!/^[0-9a-f-]{36}$/.test(externalNetworkId)) {
    throw new Error(`"${externalNetworkId}" is not a Neutron network id`);
  }
  return template.replaceAll(EXTERNAL_NETWORK_SLOT, externalNetworkId);
}

/** Writes the rendered stack file into `dir` and returns its path. */
export function writeLabStack(dir: string, externalNetworkId: string): string {
  const file = path.join(dir, `Pulumi.${LAB_STACK}.yaml`);
  fs.writeFileSync(file, renderLabStack(fs.readFileSync(LAB_STACK_TEMPLATE, "utf8"), externalNetworkId));
  return file;
}
