/**
 * Every use of @pulumi/pulumi internals in the program and in synth, in one
 * place: parts of the SDK that are public in its JavaScript but missing from
 * its type declarations, or that are its wire format. An SDK upgrade that
 * moves any of them fails test/sdk-internals.test.ts, which names the one
 * that moved, instead of synth silently losing secrets or parents.
 */
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfigModule from "@pulumi/pulumi/runtime/config";
import * as runtimeSettingsModule from "@pulumi/pulumi/runtime/settings";

/**
 * The envelope the SDK wraps a secret in when it serialises inputs (what a
 * mock monitor receives): `{ [specialSigKey]: specialSecretSig, value }`.
 * Exported by the SDK's runtime/rpc.
 */
export const SECRET_SIG_KEY: string = pulumi.runtime.specialSigKey;
export const SECRET_SIG: string = pulumi.runtime.specialSecretSig;

// The type declarations leave these functions out; the modules export them.
const runtimeConfig = runtimeConfigModule as unknown as Record<string, unknown>;
const runtimeSettings = runtimeSettingsModule as unknown as Record<string, unknown>;

function sdkFunction<T>(holder: Record<string, unknown>, name: string, module: string): T {
  const fn = holder[name];
  if (typeof fn !== "function")
    throw new Error(`@pulumi/pulumi ${module} no longer exports ${name}(): see stacks/sdk-internals.ts`);
  return fn as T;
}

/** Whether the engine marked a config key secret (`secure:` in the stack file); runtime/config. */
export const isConfigSecret = sdkFunction<(key: string) => boolean>(runtimeConfig, "isConfigSecret", "runtime/config");

/** Waits until every resource registration the program started has reached the (mock) monitor; runtime/settings. */
export const waitForRPCs = sdkFunction<() => Promise<void>>(runtimeSettings, "waitForRPCs", "runtime/settings");

/** The logical name the SDK keeps on every resource object (`__name`), for parents and dependsOn. */
export function resourceName(resource: unknown): string | undefined {
  const name = (resource as { __name?: unknown } | undefined)?.__name;
  return typeof name === "string" ? name : undefined;
}

/**
 * An Output's value through the SDK's own promise, not an apply: an apply on
 * a rejected Output never runs, so awaiting one would hang instead of failing.
 */
export function outputPromise(output: pulumi.Output<unknown>): Promise<unknown> {
  return (output as unknown as { promise(): Promise<unknown> }).promise();
}
