import { ADDRESS_PLAN_FILE, ConfigError, loadPlatformConfig, readAddressPlan } from "../config/load";
import { readProjectPlan } from "../config/projects";
import { authScopeInvoke, declaredScope, type AuthScopeAnswer } from "./fake-auth-scope";
import { withFakeRoles } from "./fake-invokes";
import { assessCompliance, type ComplianceOutcome } from "./compliance-run";
import { ProgramFailed, runProgram, type ProgramRun, type RecordedResource } from "./mock-runtime";
import { fakeState } from "./fake-state";
import { readStackFile } from "../config/stack-file";
import { renderSummary } from "./summary";
import { withSecretDigests } from "./secret-digest";
import type { CloudAnswer, FakeCloud } from "./fake-preflight";
import { capacityReport } from "./capacity";

export type SynthResult =
  | ({
      ok: true;
      summary: string;
      environment: string;
      sites: string[];
      compliance: ComplianceOutcome;
      capacity: string;
    } & ProgramRun)
  | { ok: false; error: string; problems?: ConfigError["problems"]; registered?: RecordedResource[] };

/** The Pulumi.yaml entry point, loaded the way each runner can (tsx, vitest). */
async function loadProgram(): Promise<unknown> {
  const mod = (await import("../stacks/index.js")) as unknown as { default?: () => Promise<unknown> };
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
export async function synthesize(args: {
  stack: string;
  configFile: string;
  addressPlanFile?: string;
  /** Keystone's answer to the project-scope check; by default exactly the declared project. */
  authScope?: AuthScopeAnswer;
  /** What pre-flight's lookups find; without it synth is offline and the program skips them. */
  cloud?: FakeCloud | CloudAnswer;
}): Promise<SynthResult> {
  let stackFile;
  try {
    stackFile = readStackFile(args.configFile, args.stack);
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, error: err.message, problems: err.problems };
    throw err;
  }
  // The program validates the same way; doing it here first keeps the problems structured for the report.
  let loaded;
  try {
    loaded = loadPlatformConfig(stackFile, readAddressPlan(args.addressPlanFile ?? ADDRESS_PLAN_FILE));
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, error: err.message, problems: err.problems };
    throw err;
  }
  process.env.SKE_CONFIG_FILE = stackFile.file;
  if (args.addressPlanFile) process.env.SKE_ADDRESS_PLAN_FILE = args.addressPlanFile;
  try {
    // Raw inputs (secrets unwrapped) for the policies only; never written out.
    const revealed = new Map<string, Record<string, unknown>>();
    const run = await runProgram({
      stackFile,
      entry: loadProgram,
      fakeState: (type, name, inputs) => {
        revealed.set(`${type}::${name}`, inputs);
        return fakeState(type, name, inputs);
      },
      // Read when asked: the program reports a broken project plan itself, with file and key.
      invoke: withFakeRoles(
        authScopeInvoke(args.authScope ?? ((env, site) => declaredScope(readProjectPlan())(env, site))),
      ),
      ...(args.cloud ? { cloud: args.cloud } : {}),
    });
    const capacity = capacityReport(loaded, args.cloud !== undefined);
    const outputs = run.outputs as { environment: string; sites: Record<string, unknown> };
    const sites = Object.keys(outputs.sites ?? {});
    const compliance = assessCompliance({
      stackFile,
      run,
      revealed,
      sites,
      ...(args.addressPlanFile ? { addressPlanFile: args.addressPlanFile } : {}),
    });
    return {
      ok: true,
      ...run,
      // A keyed digest per secret input, so `npm run diff` can say "changed" without the value.
      resources: withSecretDigests(run.resources, revealed),
      environment: outputs.environment,
      sites,
      compliance,
      capacity: capacity.markdown,
      summary: `${renderSummary(run.resources, outputs.environment, sites)}\n\n${capacity.summary}\n\n${compliance.verdict}`,
    };
  } catch (err) {
    if (err instanceof ProgramFailed) return { ok: false, error: err.message, registered: err.registered };
    return { ok: false, error: errorText(err) };
  } finally {
    delete process.env.SKE_CONFIG_FILE;
    delete process.env.SKE_ADDRESS_PLAN_FILE;
  }
}
