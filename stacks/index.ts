/**
 * The program's entry point: `pulumi preview/up` and the offline synth both
 * run this module's exported function.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, loadPlatformConfig, readAddressPlan } from "../config/load";
import { deployPlatform } from "./platform";

export = async () => {
  const stack = pulumi.getStack();
  let loaded;
  try {
    loaded = loadPlatformConfig(
      {
        stack,
        // The synth may validate a file other than Pulumi.<stack>.yaml; errors name it.
        file: process.env.SKE_CONFIG_FILE ?? `Pulumi.${stack}.yaml`,
        values: pulumi.runtime.allConfig(),
      },
      readAddressPlan(),
    );
  } catch (err) {
    // RunError prints the message alone: the list of problems is the whole story.
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
  return deployPlatform(loaded);
};
