import { loadPlatformConfig, readAddressPlan } from "../../config/load";
import type { PolicyResource } from "../../policy/model";
import { fakeState } from "../../synth/fake-state";
import { runProgram } from "../../synth/mock-runtime";
import { readStackFile } from "../../config/stack-file";
import { within } from "./timed";

/** The real program (stacks/index.ts), as `pulumi up` would run it. */
export async function program(): Promise<unknown> {
  const mod = (await import("../../stacks/index.js")) as unknown as { default?: () => Promise<unknown> };
  return (mod.default ?? (mod as unknown as () => Promise<unknown>))();
}

/**
 * A real run of the program on a stack file under mocks, keeping each
 * resource's inputs as the engine receives them (secrets still wrapped, for
 * policyResources to reveal as CrossGuard does), with the config it loaded.
 */
export async function revealedProgramRun(file: string, stack: string) {
  const stackFile = readStackFile(file, stack);
  const revealed = new Map<string, Record<string, unknown>>();
  process.env.SKE_CONFIG_FILE = stackFile.file;
  try {
    const run = await within(
      runProgram({
        stackFile,
        entry: program,
        fakeState: (type, name, inputs) => {
          revealed.set(`${type}::${name}`, inputs);
          return fakeState(type, name, inputs);
        },
      }),
      30_000,
      "program",
    );
    const { config, addressPlan } = loadPlatformConfig(stackFile, readAddressPlan());
    return { run, revealed, config, addressPlan };
  } finally {
    delete process.env.SKE_CONFIG_FILE;
  }
}

/** The resources with the one named `name` replaced by an edited copy: how a test breaks a record a policy judges. */
export function editedResource(
  resources: PolicyResource[],
  name: string,
  change: (r: PolicyResource) => void,
): PolicyResource[] {
  return resources.map((r) => {
    if (r.name !== name) return r;
    const copy = structuredClone(r);
    change(copy);
    return copy;
  });
}
