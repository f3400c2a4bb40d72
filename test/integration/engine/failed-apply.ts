/**
 * The real engine fails a run whose program throws inside an apply: the
 * resource that takes the rejected Output is never registered, and nothing
 * may drop it silently. Synth's mock runtime enforces the same
 * (synth/mock-runtime.ts); this proves the engine's half, with component
 * resources only, so no provider plugin is needed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import { PASSPHRASE } from "./workspace";

class Rendered extends pulumi.ComponentResource {
  constructor(name: string, props: Record<string, pulumi.Input<unknown>>) {
    super("ske:probe:Rendered", name, props);
    this.registerOutputs({});
  }
}

export const FAILED_RENDER = "renderer refuses Talos 1.14.0";

/** Runs preview and up of a program whose secret user data throws; returns each operation's error text ("" if it succeeded). */
export async function previewAndUpOfFailingApply(args: {
  workDir: string;
  pulumiHome: string;
  backendDir: string;
}): Promise<{ preview: string; up: string }> {
  fs.mkdirSync(args.workDir, { recursive: true });
  fs.mkdirSync(args.backendDir, { recursive: true });
  const program = () => {
    new Rendered("kept", { value: "plain" });
    new Rendered("dropped", {
      userData: pulumi.secret(
        pulumi.output("1.14.0").apply((): string => {
          throw new Error(FAILED_RENDER);
        }),
      ),
    });
    return Promise.resolve({});
  };
  const stack = await LocalWorkspace.createOrSelectStack(
    { projectName: "ske-failed-apply", stackName: "probe", program },
    {
      workDir: args.workDir,
      pulumiHome: args.pulumiHome,
      pulumiCommand: await PulumiCommand.get({ skipVersionCheck: true }),
      secretsProvider: "passphrase",
      projectSettings: { name: "ske-failed-apply", runtime: "nodejs", backend: { url: `file://${args.backendDir}` } },
      envVars: {
        PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
      },
    },
  );
  const errorOf = async (body: () => Promise<unknown>) => {
    try {
      await body();
      return "";
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  };
  try {
    return { preview: await errorOf(() => stack.preview()), up: await errorOf(() => stack.up()) };
  } finally {
    await stack.workspace.removeStack("probe", { force: true }).catch(() => undefined);
    fs.rmSync(path.join(args.workDir), { recursive: true, force: true });
  }
}
