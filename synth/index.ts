import { ConfigError } from "../config/load";
import { ProgramFailed, runProgram, type ProgramRun, type RecordedResource } from "./mock-runtime";
import { fakeState } from "./fake-state";
import { readStackFile } from "./stack-file";
import { renderSummary } from "./summary";

export type SynthResult =
  | ({ ok: true; summary: string; environment: string; sites: string[] } & ProgramRun)
  | { ok: false; error: string; problems?: ConfigError["problems"]; registered?: RecordedResource[] };

/** The Pulumi.yaml entry point, loaded the way each runner can (tsx, vitest). */
async function loadProgram(): Promise<unknown> {
  const mod = (await import("../stacks/index")) as unknown as { default?: () => Promise<unknown> };
  const program = mod.default ?? (mod as unknown as () => Promise<unknown>);
  return program();
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Synthesizes one stack from a file in `Pulumi.<stack>.yaml` format. Invalid
 * configuration comes back as `ok: false` with the full list of problems.
 */
export async function synthesize(args: { stack: string; configFile: string; addressPlanFile?: string }): Promise<SynthResult> {
  let stackFile;
  try {
    stackFile = readStackFile(args.configFile, args.stack);
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, error: err.message, problems: err.problems };
    throw err;
  }
  process.env.SKE_CONFIG_FILE = stackFile.file;
  if (args.addressPlanFile) process.env.SKE_ADDRESS_PLAN_FILE = args.addressPlanFile;
  try {
    const run = await runProgram({
      stackFile,
      entry: loadProgram,
      fakeState,
    });
    const outputs = run.outputs as { environment: string; sites: Record<string, unknown> };
    const sites = Object.keys(outputs.sites ?? {});
    return {
      ok: true,
      ...run,
      environment: outputs.environment,
      sites,
      summary: renderSummary(run.resources, outputs.environment, sites),
    };
  } catch (err) {
    if (err instanceof ProgramFailed) return { ok: false, error: err.message, registered: err.registered };
    return { ok: false, error: errorText(err) };
  } finally {
    delete process.env.SKE_CONFIG_FILE;
    delete process.env.SKE_ADDRESS_PLAN_FILE;
  }
}
