/**
 * What the engine tiers (the offline previews and the lab) need around the
 * real Pulumi CLI: the toolchain's binaries on PATH, a throw-away PULUMI_HOME
 * holding the provider plugins the toolchain built (openstack, github, tls,
 * random bridged from the upstream Terraform providers; kubernetes from its
 * Go module) plus two labelled TEST-ONLY plugins (test-only-plugins/), and
 * Automation API stacks whose program is the real entry point
 * (stacks/index.ts) run inline, because the Node.js language host's Go module
 * is refused with 403.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand, type ConfigMap, type Stack } from "@pulumi/pulumi/automation";
import { REPO_ROOT } from "../../../config/load";
import { readStackFile } from "../../../config/stack-file";
import { COMMAND_PLUGIN_VERSION } from "./test-only-plugins/command-inputs";

export const TOOLCHAIN_CACHE =
  process.env.SKE_TOOLCHAIN_CACHE ?? path.join(os.homedir(), ".cache", "ske-platform", "toolchain");
const BUILD_SCRIPT = path.join(REPO_ROOT, "scripts", "toolchain", "build.sh");
// From the repository root, not __dirname: under run-ts this module runs from a bundle elsewhere.
const TEST_ONLY = path.join(REPO_ROOT, "test", "integration", "engine", "test-only-plugins");
const TEST_ONLY_COMMAND = path.join(TEST_ONLY, "pulumi-resource-command");
const TEST_ONLY_LANGUAGE_HOST = path.join(TEST_ONLY, "pulumi-language-nodejs");

/** Provider plugins the previews need from the toolchain (build.sh names). */
export const TOOLCHAIN_PLUGINS = ["openstack", "github", "tls", "random", "kubernetes"] as const;
/** The CrossGuard pack, exactly what `pulumi preview --policy-pack policy` runs. */
export const POLICY_PACK = path.join(REPO_ROOT, "policy");

/** The program's entry point, exactly what `pulumi up` runs. */
export async function loadProgram(): Promise<() => Promise<Record<string, unknown>>> {
  const mod = (await import("../../../stacks/index.js")) as unknown as {
    default?: () => Promise<Record<string, unknown>>;
  };
  return mod.default ?? (mod as unknown as () => Promise<Record<string, unknown>>);
}

/**
 * Puts the toolchain's CLI on PATH the way build.sh says to (it prints
 * `export` lines; it only reuses a cached binary here, a cold build would
 * take minutes). Returns the CLI's version.
 */
export function useToolchainCli(): string {
  const exports = execFileSync("bash", [BUILD_SCRIPT, "pulumi"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pathLine = /^export PATH="([^"]*)\$PATH"$/m.exec(exports);
  if (!pathLine) throw new Error(`${BUILD_SCRIPT} printed no PATH export:\n${exports}`);
  process.env.PATH = `${pathLine[1]}${process.env.PATH ?? ""}`;
  return execFileSync("pulumi", ["version"], { encoding: "utf8" }).trim();
}

/**
 * Builds (or reuses, by pin) the provider plugins through build.sh and says
 * which could not be had, with build.sh's own words. A cold build takes
 * minutes; .ci/run builds them in a step of their own first.
 */
export function useToolchainPlugins(names: readonly string[] = TOOLCHAIN_PLUGINS): { failed: string[]; log: string } {
  const result = spawnSync("bash", [BUILD_SCRIPT, ...names], { encoding: "utf8" });
  const failed =
    /FAILED: (.*) \(see/.exec(result.stderr ?? "")?.[1]?.split(" ") ?? (result.status === 0 ? [] : [...names]);
  return { failed, log: result.stderr ?? "" };
}

export interface PluginHome {
  dir: string;
  /** Plugin directory names installed, e.g. resource-openstack-v3.15.2. */
  plugins: string[];
}

function link(plugins: string, dirName: string, target: string, binary: string): void {
  fs.mkdirSync(path.join(plugins, dirName), { recursive: true });
  fs.symlinkSync(target, path.join(plugins, dirName, binary));
}

/**
 * A PULUMI_HOME of our own: every plugin the toolchain built, linked rather
 * than copied; the TEST-ONLY command provider as resource-command-v1.2.1 (the
 * version @pulumi/command asks for; the real one is not served); and the
 * TEST-ONLY language host, which only runs policy packs. Nothing ambient is
 * ever used.
 */
export function makePluginHome(dir: string): PluginHome {
  const plugins = path.join(dir, "plugins");
  fs.mkdirSync(plugins, { recursive: true });
  const installed: string[] = [];
  const built = path.join(TOOLCHAIN_CACHE, "pulumi-home", "plugins");
  for (const entry of fs.existsSync(built) ? fs.readdirSync(built) : []) {
    const name = /^resource-([a-z]+)-v[\d.]+$/.exec(entry)?.[1];
    if (!name) continue;
    // A real directory around a linked binary: the CLI skips plugin directories that are symlinks.
    link(plugins, entry, path.join(built, entry, `pulumi-resource-${name}`), `pulumi-resource-${name}`);
    installed.push(entry);
  }
  if (!installed.some((entry) => entry.startsWith("resource-command-"))) {
    link(plugins, `resource-command-v${COMMAND_PLUGIN_VERSION}`, TEST_ONLY_COMMAND, "pulumi-resource-command");
    installed.push(`resource-command-v${COMMAND_PLUGIN_VERSION} (TEST-ONLY, previews only)`);
  }
  const cli = execFileSync("pulumi", ["version"], { encoding: "utf8" }).trim().replace(/^v/, "");
  link(plugins, `language-nodejs-v${cli}`, TEST_ONLY_LANGUAGE_HOST, "pulumi-language-nodejs");
  installed.push(`language-nodejs-v${cli} (TEST-ONLY, policy packs only)`);
  // Bundles the TypeScript once now, so plugin processes the engine starts in
  // parallel never race to write the same bundle.
  execFileSync(TEST_ONLY_COMMAND, ["--version"], { stdio: "ignore" });
  execFileSync(TEST_ONLY_LANGUAGE_HOST, ["--version"], { stdio: "ignore" });
  return { dir, plugins: installed };
}

export const PASSPHRASE = "engine-tier-only-passphrase";

export interface EngineStackArgs {
  stackName: string;
  /** A file in Pulumi.<stack>.yaml format; its ske-platform:* values become the stack's config. */
  configFile: string;
  workDir: string;
  pulumiHome: string;
  backendDir: string;
  /** Extra environment for the CLI and the plugins it starts (e.g. OS_* for the lab). */
  env?: Record<string, string>;
}

/**
 * An Automation API stack running stacks/index.ts inline, on a local file
 * backend with passphrase secrets, configured from a stack file (objects as
 * JSON strings, as the engine hands them to the program anyway).
 */
export async function engineStack(args: EngineStackArgs): Promise<Stack> {
  const stackFile = readStackFile(args.configFile, args.stackName);
  if (stackFile.secretKeys.length > 0) {
    throw new Error(
      `${args.configFile}: secure values (${stackFile.secretKeys.join(", ")}) need the stack's own passphrase; the engine tier only runs plain stack files`,
    );
  }
  fs.mkdirSync(args.workDir, { recursive: true });
  fs.mkdirSync(args.backendDir, { recursive: true });
  const program = await loadProgram();
  const pulumiCommand = await PulumiCommand.get({ skipVersionCheck: true });
  const stack = await LocalWorkspace.createOrSelectStack(
    { projectName: "ske-platform", stackName: args.stackName, program },
    {
      workDir: args.workDir,
      pulumiHome: args.pulumiHome,
      pulumiCommand,
      secretsProvider: "passphrase",
      projectSettings: { name: "ske-platform", runtime: "nodejs", backend: { url: `file://${args.backendDir}` } },
      envVars: {
        PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
        ...args.env,
      },
    },
  );
  const config: ConfigMap = Object.fromEntries(
    Object.entries(stackFile.values).map(([key, value]) => [key, { value }]),
  );
  await stack.setAllConfig(config);
  return stack;
}

/** Environment variables that would hand the program or a plugin credentials. */
export const CREDENTIAL_ENV = /^(OS_\w+|GITHUB_TOKEN|GH_TOKEN|KUBECONFIG)$/;

/**
 * Removes credentials from this process's environment. The inline program
 * runs here, and @pulumi/openstack defaults provider inputs from OS_* (they
 * would land in state); the CLI and its plugins inherit it too.
 */
export function dropAmbientCredentials(): string[] {
  const dropped = Object.keys(process.env).filter((key) => CREDENTIAL_ENV.test(key));
  for (const key of dropped) delete process.env[key];
  return dropped;
}

/** `export K=V` lines of the lab's openrc. */
export function readOpenrc(file: string): Record<string, string> {
  return Object.fromEntries(
    fs
      .readFileSync(file, "utf8")
      .split("\n")
      .flatMap((line) => {
        const match = /^export (\w+)=(.*)$/.exec(line.trim());
        return match ? [[match[1]!, match[2]!.replace(/^"(.*)"$/, "$1")]] : [];
      }),
  );
}

/** The engine's own words, from a failed Automation API command. */
export function engineErrorLines(err: unknown): string[] {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text.split("\n").map((line) => line.trim());
  const errors = lines.filter((line) => /^error:|^\s*error:|failed to|no resource plugin|could not/i.test(line));
  return [...new Set(errors.length > 0 ? errors : lines.filter(Boolean).slice(0, 5))];
}
