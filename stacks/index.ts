/**
 * The program's entry point: `pulumi preview/up` and the offline synth both
 * run this module's exported function.
 */
import * as pulumi from "@pulumi/pulumi";
import { ADDRESS_PLAN_FILE, ConfigError, loadPlatformConfig, readAddressPlan } from "../config/load";
import { deployPlatform } from "./platform";

// Public in the SDK's runtime but absent from its type declarations.
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

export = async () => {
  const stack = pulumi.getStack();
  let loaded;
  const values = pulumi.runtime.allConfig();
  try {
    loaded = loadPlatformConfig(
      {
        stack,
        // The synth may validate a file other than Pulumi.<stack>.yaml; errors name it.
        file: process.env.SKE_CONFIG_FILE ?? `Pulumi.${stack}.yaml`,
        values,
        secretKeys: Object.keys(values).filter(isConfigSecret),
      },
      // Only benchmarks point this elsewhere, to plan more sites than we run.
      readAddressPlan(process.env.SKE_ADDRESS_PLAN_FILE ?? ADDRESS_PLAN_FILE),
    );
  } catch (err) {
    // RunError prints the message alone: the list of problems is the whole story.
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
  return deployPlatform(loaded);
};
