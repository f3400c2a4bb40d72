/**
 * ENGINE TIER of the integration tests: the real Pulumi engine (the CLI built
 * by scripts/toolchain/build.sh) runs the real program (stacks/index.ts, the
 * entry `pulumi up` runs) through the Automation API with an inline program,
 * because the Node.js language host cannot be built here, and with the REAL
 * OpenStack provider plugin, bridged from terraform-provider-openstack by
 * scripts/toolchain/providers (build.sh openstack).
 *
 *   node scripts/run-ts.cjs test/integration/engine/run.ts
 *   SKE_LAB_DIR=/tmp/ske-lab-dev node scripts/run-ts.cjs test/integration/engine/run.ts
 *
 * The offline previews of the committed stacks, which need no lab, are
 * test/integration/preview/run.ts (npm run test:preview).
 *
 * Against the OpenStack lab (started here only if Keystone does not answer
 * on 127.0.0.1:5000, and then stopped here): the `test-lab` stack, whose
 * bootstrap, kubernetes and github layers are OFF (no Talos API, no
 * Kubernetes API, no GitHub token in the lab), and whose clusters layer is
 * ON when the lab runs Nova (compute-layer.ts). preview → up → proofs
 * through the Neutron and Nova APIs → preview expecting no changes → edits
 * previewed with exact counts → destroy → nothing of ours left. Wall times
 * beside synth of the same config.
 *
 * Last line: `engine: N passed, M failed`; exit status 1 when M > 0.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parse as parseYaml } from "yaml";
import type { OpMap, Stack } from "@pulumi/pulumi/automation";
import { readAddressPlan, REPO_ROOT } from "../../../config/load";
import { ENVIRONMENTS, type EnvironmentName } from "../../../plan/address-plan";
import { cidrOverlaps, nthAddress } from "../../../plan/cidr";
import { authenticate as labToken, Neutron, readLab, type LabInfo, type NeutronObject, type Session } from "../lab";
import { api } from "../preflight-cloud";
import { writeLabStack, LAB_STACK } from "../lab-stack";
import {
  createLabProjects,
  deleteLabProjects,
  deployerEnv,
  writeLabProjectPlan,
  type LabProject,
} from "../lab-projects";
import { FAILED_RENDER, previewAndUpOfFailingApply } from "./failed-apply";
import {
  dropAmbientCredentials,
  engineErrorLines,
  engineStack,
  makePluginHome,
  readOpenrc,
  useToolchainCli,
  useToolchainPlugins,
  type EngineStackArgs,
} from "./workspace";
import { checkRecorder, type Outcome } from "../checks";
import {
  createComputeFixtures,
  INSTANCE,
  novaRuns,
  reachedBy,
  withComputeLayer,
  type ComputeFixtures,
  type PlannedResource,
} from "./compute-layer";

/** Provider config keys that carry credentials, as @pulumi/openstack names them: never in state. */
const CREDENTIAL_KEYS = [
  "authUrl",
  "userName",
  "password",
  "tenantName",
  "tenantId",
  "token",
  "applicationCredentialId",
  "applicationCredentialSecret",
  "userDomainName",
  "userDomainId",
  "projectDomainName",
  "projectDomainId",
  "endpointType",
] as const;

const LAB_DIR_DEFAULT = path.join(os.tmpdir(), "ske-openstack-lab");
const KEYSTONE = "http://127.0.0.1:5000/v3";
const NETWORK_TYPES = {
  network: "openstack:networking/network:Network",
  subnet: "openstack:networking/subnet:Subnet",
  router: "openstack:networking/router:Router",
  routerInterface: "openstack:networking/routerInterface:RouterInterface",
  secGroup: "openstack:networking/secGroup:SecGroup",
  secGroupRule: "openstack:networking/secGroupRule:SecGroupRule",
  port: "openstack:networking/port:Port",
} as const;
const SERVER_GROUP = "openstack:compute/serverGroup:ServerGroup";

// ---------------------------------------------------------------- reporting

const { outcomes, check } = checkRecorder();
const timings: { label: string; seconds: number }[] = [];

function fail(message: string): never {
  throw new Error(message);
}

/**
 * Runs a read-only engine call (a preview), once more if the first attempt
 * lost the Automation API's local gRPC connection before the program ran
 * ("14 UNAVAILABLE: No connection established"). That race is in the
 * engine's plumbing, not in our program; the retry is logged, and any other
 * error, or a second loss, is reported as it is.
 */
async function readOnlyEngineCall<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (!engineErrorLines(err).some((line) => line.includes("14 UNAVAILABLE: No connection established"))) throw err;
    console.log(
      "  (the engine lost its gRPC connection to the inline program before it ran; retrying this preview once)",
    );
    return body();
  }
}

async function timed<T>(label: string, body: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await body();
  } finally {
    const seconds = (performance.now() - started) / 1000;
    timings.push({ label, seconds });
    console.log(`  (${label}: ${seconds.toFixed(1)} s)`);
  }
}

const summary = (ops: OpMap | undefined) => JSON.stringify(ops ?? {});

// ---------------------------------------------------------------- setup

interface Run {
  work: string;
  stackArgs(stackName: string, configFile: string, env?: Record<string, string>): EngineStackArgs;
}

function prepare(): Run {
  const dropped = dropAmbientCredentials();
  if (dropped.length > 0)
    console.log(`  dropped ambient ${dropped.join(", ")}: only the lab's openrc reaches the engine`);
  const version = useToolchainCli();
  const plugins = useToolchainPlugins(["openstack"]);
  if (plugins.failed.length > 0) fail(`the real OpenStack plugin could not be built or found:\n${plugins.log}`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ske-engine-"));
  const home = makePluginHome(path.join(work, "pulumi-home"));
  console.log(`  pulumi ${version}; PULUMI_HOME ${home.dir} with ${home.plugins.join(", ")}`);
  return {
    work,
    stackArgs: (stackName, configFile, env) => ({
      stackName,
      configFile,
      // A project directory per stack: Pulumi.<stack>.yaml there holds its config and salt.
      workDir: fs.mkdtempSync(path.join(work, `project-${stackName}-`)),
      pulumiHome: home.dir,
      backendDir: path.join(work, "state"),
      ...(env ? { env } : {}),
    }),
  };
}

async function failedApply(run: Run): Promise<void> {
  const args = run.stackArgs("probe", "");
  await check(
    "the real engine fails preview and up when an apply throws, naming the error (nothing dropped silently)",
    async () => {
      const result = await timed("preview and up of a failing apply", () =>
        previewAndUpOfFailingApply({
          workDir: args.workDir,
          pulumiHome: args.pulumiHome,
          backendDir: path.join(run.work, "failed-apply-state"),
        }),
      );
      for (const [op, text] of Object.entries(result)) {
        if (!text.includes(FAILED_RENDER))
          fail(
            `${op} ${text ? `failed without naming the error: ${text.split("\n").slice(0, 3).join(" / ")}` : "succeeded"}`,
          );
      }
      return "preview and up both failed with the apply's error";
    },
  );
}

// ---------------------------------------------------------------- 2. lab

async function keystoneAnswers(): Promise<boolean> {
  try {
    return (await fetch(KEYSTONE, { signal: AbortSignal.timeout(3000) })).ok;
  } catch {
    return false;
  }
}

/**
 * The running lab (found through SKE_LAB_DIR), or one started here in a
 * directory of this run's own, never in one a caller named: start.sh wipes
 * the state of the directory it is given. `stop` ends exactly what was started.
 */
async function ensureLab(run: Run): Promise<{ lab: LabInfo; stop?: () => void }> {
  const script = (name: string) => path.join(REPO_ROOT, "test", "integration", "openstack-lab", name);
  if (await keystoneAnswers()) {
    const dir = process.env.SKE_LAB_DIR ?? LAB_DIR_DEFAULT;
    if (!fs.existsSync(path.join(dir, "lab.json"))) {
      fail(
        `Keystone answers on ${KEYSTONE} but ${dir}/lab.json does not exist: set SKE_LAB_DIR to the directory the running lab was started with`,
      );
    }
    console.log(`  using the lab already running from ${dir}`);
    return { lab: readLab(dir) };
  }
  const dir = path.join(run.work, "lab");
  const env = { ...process.env, SKE_LAB_DIR: dir };
  const stop = () => execFileSync("bash", [script("stop.sh")], { env, stdio: "inherit" });
  console.log(`  no Keystone on ${KEYSTONE}: starting a lab of this run's own in ${dir}`);
  try {
    await timed("lab start", () => {
      execFileSync("bash", [script("start.sh")], { env, stdio: "inherit" });
      return Promise.resolve();
    });
  } catch (err) {
    stop(); // whatever start.sh got to start before it failed
    throw err;
  }
  return { lab: readLab(dir), stop };
}

interface StateResource {
  urn: string;
  type: string;
  id?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

async function stateResources(stack: Stack): Promise<StateResource[]> {
  const exported = await stack.exportStack();
  return (exported.deployment as { resources?: StateResource[] }).resources ?? [];
}

const nameOf = (urn: string) => urn.split("::").pop()!;
/** A provider the engine made for a package the program gave no explicit one (tls, random). */
const isDefaultProvider = (r: StateResource) =>
  r.type.startsWith("pulumi:providers:") && nameOf(r.urn).startsWith("default_");

/** Preview with every site of the stack's config edited; the config is restored afterwards. */
async function previewEdited(
  stack: Stack,
  what: string,
  edit: (site: Record<string, unknown>) => Record<string, unknown>,
): Promise<OpMap> {
  const before = await stack.getAllConfig();
  const sites = JSON.parse(before["ske-platform:sites"]!.value) as Record<string, Record<string, unknown>>;
  const edited = Object.fromEntries(Object.entries(sites).map(([name, site]) => [name, edit(site)]));
  try {
    await stack.setConfig("ske-platform:sites", { value: JSON.stringify(edited) });
    return (await timed(`preview ${LAB_STACK} after ${what}`, () => readOnlyEngineCall(() => stack.preview())))
      .changeSummary;
  } finally {
    await stack.setAllConfig(before);
  }
}

/** Synth of the same config, the way a developer runs it; timed; what it registered. */
function synthBeside(configFile: string, outDir: string): { seconds: number; resources: PlannedResource[] } {
  const started = performance.now();
  const result = spawnSync(
    process.execPath,
    [
      path.join(REPO_ROOT, "scripts", "run-ts.cjs"),
      path.join(REPO_ROOT, "scripts", "synth.ts"),
      "--stack",
      LAB_STACK,
      "--config",
      configFile,
      "--out",
      outDir,
    ],
    { cwd: REPO_ROOT, encoding: "utf8" },
  );
  const seconds = (performance.now() - started) / 1000;
  timings.push({ label: `synth ${LAB_STACK} (mocks, same config)`, seconds });
  if (result.status !== 0) fail(`synth exited ${result.status}: ${result.stderr}`);
  const resources = JSON.parse(
    fs.readFileSync(path.join(outDir, LAB_STACK, "resources.json"), "utf8"),
  ) as PlannedResource[];
  return { seconds, resources };
}

async function labTier(run: Run): Promise<void> {
  console.log(
    `\n== 2. ${LAB_STACK} against the OpenStack lab (bootstrap, kubernetes, github layers OFF: no Talos API, no Kubernetes API, no GitHub token in the lab; clusters ON when the lab runs Nova)`,
  );
  const { lab, stop } = await ensureLab(run);
  try {
    await labStack(run, lab);
  } finally {
    if (stop) {
      console.log("  stopping the lab this run started");
      stop();
    }
  }
}

async function labStack(run: Run, lab: LabInfo): Promise<void> {
  const configFile = writeLabStack(run.work, lab.externalNetwork.id);
  const template = (parseYaml(fs.readFileSync(configFile, "utf8")) as { config: Record<string, unknown> }).config;
  await check("the lab stack switches the clusters, bootstrap, kubernetes and github layers off", () => {
    const layers = JSON.stringify(template["ske-platform:layers"]);
    if (layers !== JSON.stringify({ clusters: false, bootstrap: false, kubernetes: false, github: false }))
      fail(`layers are ${layers}`);
    return `environment ${String(template["ske-platform:environment"])}, external network ${lab.externalNetwork.id}`;
  });

  // One project per environment in the lab's Keystone, declared in a project
  // plan of the lab's own; the inline program (this process) reads that plan.
  const admin = await labToken(lab);
  const environment = String(template["ske-platform:environment"]) as EnvironmentName;
  const otherEnvironment: EnvironmentName = environment === "production" ? "test" : "production";
  const projects = await timed("create the lab's environment projects and two deployers (Keystone)", () =>
    createLabProjects(lab, admin, [environment, otherEnvironment]),
  );

  // With Nova in the lab, the clusters layer goes on too (bootstrap, kubernetes
  // and github stay off: no Talos API, no Kubernetes API, no GitHub token).
  let fixtures: ComputeFixtures | undefined;
  if (novaRuns(lab.labDir)) {
    try {
      fixtures = await timed("create flavors, images, a keypair and quotas for the compute layer (Nova, Glance)", () =>
        createComputeFixtures(lab, admin, projects[environment]),
      );
    } catch (err) {
      await deleteLabProjects(lab, admin, projects).catch(() => undefined);
      throw err;
    }
    withComputeLayer(configFile, fixtures);
    console.log(
      `  Nova runs: the clusters layer is ON (flavors ${Object.values(fixtures.flavors).join(", ")}; keypair ${fixtures.keyPair})`,
    );
  } else {
    console.log("  no Nova in the lab (run.sh starts it unless SKE_LAB_NOVA=0): the network layer only");
  }
  const config = (parseYaml(fs.readFileSync(configFile, "utf8")) as { config: Record<string, unknown> }).config;
  const sites = Object.keys(JSON.parse(JSON.stringify(config["ske-platform:sites"])) as Record<string, unknown>);
  process.env.SKE_PROJECTS_FILE = writeLabProjectPlan(run.work, projects, sites);
  const openrc = readOpenrc(path.join(lab.labDir, "openrc"));
  const own = projects[environment];
  const other = projects[otherEnvironment];
  console.log(
    `  projects: ${Object.values(projects)
      .map((p) => `${p.environment} ${p.name} ${p.id}`)
      .join("; ")}`,
  );

  // Credentials reach the CLI and the plugins only, as OS_* variables:
  // those of the lab stack's own project's deployer, never the lab's admin.
  // The refused runs go first, on a stack of their own that is removed again
  // (same backend, same stack name): the right-credentials run starts clean.
  const neutron = new Neutron(admin, lab.region);
  try {
    await wrongCredentials(run, configFile, neutron, deployerEnv(openrc, other), own, other);
  } catch (err) {
    delete process.env.SKE_PROJECTS_FILE;
    await fixtures?.remove();
    await deleteLabProjects(lab, admin, projects).catch(() => undefined);
    throw err;
  }
  const stack = await engineStack(run.stackArgs(LAB_STACK, configFile, deployerEnv(openrc, own)));
  let deployed = false;
  try {
    const synth = synthBeside(configFile, path.join(run.work, "synth"));
    let previewCreates = 0;
    await check(
      "preview of test-lab with its own project's credentials: only creates, one per resource synth registers",
      async () => {
        const result = await timed(`preview ${LAB_STACK} (lab, engine)`, () =>
          readOnlyEngineCall(() => stack.preview()),
        );
        const ops = result.changeSummary;
        previewCreates = ops.create ?? 0;
        const other = Object.keys(ops).filter((op) => op !== "create");
        if (other.length > 0) fail(`expected only creates, got ${summary(ops)}`);
        // Both count the stack resource itself, providers and components.
        if (previewCreates !== synth.resources.length)
          fail(`engine would create ${previewCreates}, synth registers ${synth.resources.length}`);
        return `${summary(ops)}; synth registers ${synth.resources.length} in ${synth.seconds.toFixed(1)} s`;
      },
    );

    const upOk = await check("up of test-lab creates every resource of the preview", async () => {
      const result = await timed(`up ${LAB_STACK} (lab)`, () => stack.up());
      deployed = true;
      const changes = result.summary.resourceChanges ?? {};
      if (result.summary.result !== "succeeded") fail(`result ${result.summary.result}`);
      if ((changes.create ?? 0) !== previewCreates) fail(`created ${summary(changes)}, preview said ${previewCreates}`);
      return summary(changes);
    });
    if (!upOk) return;

    const state = await stateResources(stack);
    const ofType = (type: string) => state.filter((r) => r.type === type);
    await check("engine state holds exactly the resources synth registers under mocks", () => {
      // Default providers (tls, random: the program gives them no explicit one)
      // are the engine's own; the mock runtime of synth records none.
      const engine = state
        .filter((r) => !isDefaultProvider(r))
        .map((r) => `${r.type} ${nameOf(r.urn)}`)
        .sort();
      const mocks = synth.resources.map((r) => `${r.type} ${r.name}`).sort();
      const onlyEngine = engine.filter((k) => !mocks.includes(k));
      const onlyMocks = mocks.filter((k) => !engine.includes(k));
      if (onlyEngine.length + onlyMocks.length > 0)
        fail(`only in engine state: ${onlyEngine.join(", ") || "-"}; only in synth: ${onlyMocks.join(", ") || "-"}`);
      return `${engine.length} resources`;
    });
    await check("state holds no OpenStack credential (the provider read them from OS_* at run time)", () => {
      const providers = state.filter((r) => r.type === "pulumi:providers:openstack");
      const keys = providers.flatMap((p) => Object.keys(p.inputs ?? {}));
      // @pulumi/openstack defaults these provider inputs from OS_* of the program's process.
      const leaked = keys.filter((key) => (CREDENTIAL_KEYS as readonly string[]).includes(key));
      if (providers.length === 0) fail("no openstack provider in state");
      if (leaked.length > 0) fail(`provider inputs hold ${leaked.join(", ")}`);
      return `${providers.length} provider(s) with ${[...new Set(keys)].sort().join(", ")}`;
    });

    await neutronProofs(neutron, lab, String(config["ske-platform:environment"]), ofType);
    if (fixtures) await novaProofs(admin, neutron, lab, own, ofType);
    await check(
      `every object the up made belongs to ${own.environment}'s own project ${own.name}, none to the admin's or another environment's`,
      async () => {
        const owned: [string, string][] = [
          [NETWORK_TYPES.network, "network"],
          [NETWORK_TYPES.subnet, "subnet"],
          [NETWORK_TYPES.router, "router"],
          [NETWORK_TYPES.secGroup, "security_group"],
          [NETWORK_TYPES.secGroupRule, "security_group_rule"],
          [NETWORK_TYPES.port, "port"],
        ];
        const elsewhere: string[] = [];
        let count = 0;
        for (const [type, key] of owned) {
          for (const r of ofType(type)) {
            const real = (
              await neutron.request<Record<string, NeutronObject>>("GET", `/${key.replace(/_/g, "-")}s/${r.id!}`)
            )[key]!;
            count++;
            if (real.project_id !== own.id) elsewhere.push(`${nameOf(r.urn)} in project ${String(real.project_id)}`);
          }
        }
        if (elsewhere.length > 0) fail(elsewhere.join("; "));
        return `${count} objects, all in project ${own.id}`;
      },
    );

    await check(
      "second preview expects no changes (idempotent: the real provider reads back what it stored)",
      async () => {
        const result = await timed(`preview ${LAB_STACK} again (expect no changes)`, () =>
          readOnlyEngineCall(() => stack.preview({ expectNoChanges: true })),
        );
        const changed = Object.keys(result.changeSummary).filter((op) => op !== "same");
        if (changed.length > 0) fail(`changes: ${summary(result.changeSummary)}`);
        return summary(result.changeSummary);
      },
    );

    // Operator edits of the stack file, previewed only: what the real provider's
    // Diff makes of a mutable and of an immutable input change.
    const openstackResources = state.filter((r) => r.type.startsWith("openstack:")).length;
    // What a preview counts: the engine's default providers are not among its steps.
    const counted = state.filter((r) => !isDefaultProvider(r)).length;
    await check("preview after a DNS server edit: the subnet is updated in place, nothing else changes", async () => {
      const ops = await previewEdited(stack, "a DNS server edit", (site) => ({
        ...site,
        dnsNameservers: [nthAddress(String(site.subnet), 3)],
      }));
      const want = { same: counted - 1, update: 1 };
      if (!isDeepStrictEqual(ops, want)) fail(`expected ${summary(want)}, got ${summary(ops)}`);
      return summary(ops);
    });
    if (!fixtures) {
      await check(
        "preview after a region edit: every OpenStack resource is replaced (region is immutable), the provider updated",
        async () => {
          const ops = await previewEdited(stack, "a region edit", (site) => ({ ...site, region: "RegionTwo" }));
          const want = { same: counted - openstackResources - 1, replace: openstackResources, update: 1 };
          if (!isDeepStrictEqual(ops, want)) fail(`expected ${summary(want)}, got ${summary(ops)}`);
          return summary(ops);
        },
      );
    } else {
      // A region the lab lacks fails pre-flight once the clusters layer is on
      // (no flavor, image or zone there), so the compute edits stand in.
      const edits = fixtures;
      await check(
        "preview after a worker flavor edit: exactly the servers of that flavor in the plan are resized in place, nothing else changes",
        async () => {
          const reached = reachedBy(synth.resources, "flavorName", [edits.flavors.worker]);
          if (reached.length === 0) fail(`no instance of the plan uses ${edits.flavors.worker}`);
          const ops = await previewEdited(stack, "a worker flavor edit", (site) => ({
            ...site,
            flavors: { ...(site.flavors as object), worker: edits.flavors.workerNext },
          }));
          const want = { same: counted - reached.length, update: reached.length };
          if (!isDeepStrictEqual(ops, want))
            fail(`expected ${summary(want)} (${reached.map((r) => r.name).join(", ")}), got ${summary(ops)}`);
          return `${summary(ops)}: ${reached.map((r) => r.name).join(", ")}`;
        },
      );
      // terraform-provider-openstack rebuilds a server in place for a new
      // image_id (an update, not a replace); a rebuild would wipe a Talos node,
      // hence ignoreChanges on the nodes and the runners.
      await check(
        "preview after a Talos and a jump-host image edit: servers of those images are rebuilt in place unless they ignore imageId (Talos nodes and runners keep theirs)",
        async () => {
          const old = [edits.images.talos, edits.images.debian];
          const booted = synth.resources.filter(
            (r) => r.type === INSTANCE && old.includes(r.inputs?.imageId as string),
          );
          const reached = reachedBy(synth.resources, "imageId", old);
          if (reached.length === 0 || reached.length === booted.length)
            fail(
              `the plan has ${booted.length} servers of the two images, ${reached.length} without ignoreChanges: the edit would prove nothing`,
            );
          const ops = await previewEdited(stack, "a Talos and a jump-host image edit", (site) => ({
            ...site,
            talosImageId: edits.images.talosNext,
            jumpHostImageId: edits.images.debianNext,
          }));
          const want = { same: counted - reached.length, update: reached.length };
          if (!isDeepStrictEqual(ops, want))
            fail(`expected ${summary(want)} (${reached.map((r) => r.name).join(", ")}), got ${summary(ops)}`);
          return `${summary(ops)}: rebuilt ${reached.map((r) => r.name).join(", ")}; kept ${booted.length - reached.length} that ignore imageId`;
        },
      );
    }

    const ids = state
      .filter((r) => r.type.startsWith("openstack:") && r.id)
      .map((r) => ({ type: r.type, name: nameOf(r.urn), id: r.id! }));
    await check("destroy of test-lab deletes every resource", async () => {
      const result = await timed(`destroy ${LAB_STACK} (lab)`, () => stack.destroy());
      deployed = false;
      const left = (await stateResources(stack)).length;
      if (result.summary.result !== "succeeded") fail(`result ${result.summary.result}`);
      if (left > 0) fail(`${left} resources still in state`);
      return summary(result.summary.resourceChanges);
    });
    await check(
      "nothing of ours is left in the lab project: networks, subnets, routers, security groups, ports",
      async () => {
        const ours = new Set(ids.map((r) => r.id));
        const lines: string[] = [];
        const left: string[] = [];
        for (const collection of ["networks", "subnets", "routers", "security-groups", "ports"]) {
          const items = await neutron.list(collection, { project_id: own.id });
          lines.push(
            `${collection}: ${items.map((i) => String(i.name || i.device_owner || i.id)).join(", ") || "none"}`,
          );
          for (const item of items) {
            const routerOrNetwork = ids.some((r) => r.id === item.device_id || r.id === item.network_id);
            if (ours.has(item.id) || (collection === "ports" && routerOrNetwork))
              left.push(`${collection} ${String(item.name)} ${item.id}`);
          }
        }
        console.log(
          `       left in project ${own.name} (the lab stack's own project):\n         ${lines.join("\n         ")}${fixtures ? "" : "\n         servers: none possible (no Nova in the lab)"}`,
        );
        if (left.length > 0) fail(`still there: ${left.join("; ")}`);
        return `${ids.length} objects created and gone`;
      },
    );
    if (fixtures) {
      await check("Nova holds no server and no server group of the lab stack's project after destroy", async () => {
        const { servers, groups } = await novaInventory(admin, lab, own.id);
        const declared = ids.filter((r) => r.type === INSTANCE || r.type === SERVER_GROUP).length;
        if (servers.length + groups.length > 0)
          fail(
            `servers: ${servers.map((s) => `${s.name} ${s.status}`).join(", ") || "-"}; server groups: ${groups.map((g) => g.name).join(", ") || "-"}`,
          );
        if (declared === 0) fail("the stack declared no server and no server group: nothing was proven");
        return `0 servers, 0 server groups (${declared} were created)`;
      });
    }
  } finally {
    if (deployed) {
      console.log("  cleaning up: destroy after a failed step");
      await stack
        .destroy()
        .catch((err: unknown) => console.log(`  cleanup destroy failed: ${engineErrorLines(err).join(" / ")}`));
    }
    await stack.workspace.removeStack(LAB_STACK, { force: true }).catch(() => undefined);
    delete process.env.SKE_PROJECTS_FILE;
    await fixtures?.remove();
    await deleteLabProjects(lab, admin, projects).catch((err: unknown) =>
      console.log(`  could not delete the lab projects: ${String(err)}`),
    );
  }
}

/**
 * A value as the program declared it: the bridged provider stores inputs
 * with `__defaults`, its own list of which nested fields it defaulted, which
 * Neutron neither has nor needs.
 */
function withoutBridgeDefaults(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutBridgeDefaults);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== "__defaults")
      .map(([key, child]) => [key, withoutBridgeDefaults(child)]),
  );
}

const NEUTRON_COLLECTIONS = [
  "networks",
  "subnets",
  "routers",
  "security-groups",
  "security-group-rules",
  "ports",
] as const;

/** Every Neutron object of every project (the admin sees all), as `collection id name`. */
async function neutronInventory(neutron: Neutron): Promise<string[]> {
  const lists = await Promise.all(
    NEUTRON_COLLECTIONS.map(async (collection) =>
      (await neutron.list(collection)).map((item) => `${collection} ${item.id} ${String(item.name ?? "")}`),
    ),
  );
  return lists.flat().sort();
}

/**
 * The lab stack with another environment's deployer credentials: preview and
 * up are refused by the program's Keystone question before any resource is
 * registered, the message names both projects, and Neutron holds exactly
 * what it held before, in every project.
 */
async function wrongCredentials(
  run: Run,
  configFile: string,
  neutron: Neutron,
  otherEnv: Record<string, string>,
  own: LabProject,
  other: LabProject,
): Promise<void> {
  const before = await neutronInventory(neutron);
  const wrong = await engineStack(run.stackArgs(LAB_STACK, configFile, otherEnv));
  // The whole message, not engineErrorLines: the refusal's problem lines do not start with "error:".
  const refusal = (err: unknown) => {
    const text = err instanceof Error ? err.message : String(err);
    const lines = text.split("\n").map((line) => line.trim());
    for (const needle of [
      `Refusing to deploy ${own.environment}`,
      `scoped to project "${other.name}" (id ${other.id}`,
      `which is ${other.environment}'s project`,
      `declares "${own.name}" (id ${own.id}`,
    ]) {
      if (!text.includes(needle)) fail(`the engine's error does not say ${JSON.stringify(needle)}:\n${text}`);
    }
    return lines.find((line) => line.includes("Refusing")) ?? lines[0]!;
  };
  try {
    await check(
      `preview of ${LAB_STACK} with ${other.environment}'s credentials is refused, naming both projects`,
      async () => {
        try {
          await timed(`preview ${LAB_STACK} with ${other.environment}'s credentials (refused)`, () =>
            readOnlyEngineCall(() => wrong.preview()),
          );
        } catch (err) {
          return refusal(err);
        }
        return fail("the preview succeeded");
      },
    );
    await check(
      `up of ${LAB_STACK} with ${other.environment}'s credentials is refused before any resource is created`,
      async () => {
        try {
          await timed(`up ${LAB_STACK} with ${other.environment}'s credentials (refused)`, () => wrong.up());
        } catch (err) {
          const line = refusal(err);
          const inState = (await stateResources(wrong)).filter((r) => !r.type.startsWith("pulumi:"));
          if (inState.length > 0) fail(`state holds ${inState.map((r) => r.urn).join(", ")}`);
          return `${line}; state holds no resource but the stack and its providers`;
        }
        return fail("the up succeeded");
      },
    );
    await check("Neutron shows nothing was made by the refused runs, in any project", async () => {
      const after = await neutronInventory(neutron);
      const added = after.filter((o) => !before.includes(o));
      const removed = before.filter((o) => !after.includes(o));
      if (added.length + removed.length > 0)
        fail(`added: ${added.join("; ") || "-"}; removed: ${removed.join("; ") || "-"}`);
      return `${after.length} objects before and after, identical (${NEUTRON_COLLECTIONS.join(", ")})`;
    });
  } finally {
    await wrong.workspace.removeStack(LAB_STACK, { force: true }).catch(() => undefined);
  }
}

async function neutronProofs(
  neutron: Neutron,
  lab: LabInfo,
  environment: string,
  ofType: (type: string) => StateResource[],
): Promise<void> {
  const get = async (collection: string, id: string) =>
    (await neutron.request<Record<string, NeutronObject>>("GET", `/${collection}/${id}`))[
      collection.replace(/-/g, "_").replace(/s$/, "")
    ]!;

  await check(
    "Neutron holds every network, subnet, router, router interface and group with the declared values and tags",
    async () => {
      const problems: string[] = [];
      const expectField = (what: string, got: unknown, want: unknown) => {
        if (!isDeepStrictEqual(got, want))
          problems.push(`${what}: Neutron has ${JSON.stringify(got)}, declared ${JSON.stringify(want)}`);
      };
      const tagged: [string, string][] = [
        [NETWORK_TYPES.network, "networks"],
        [NETWORK_TYPES.subnet, "subnets"],
        [NETWORK_TYPES.router, "routers"],
        [NETWORK_TYPES.secGroup, "security-groups"],
      ];
      for (const [type, collection] of tagged) {
        for (const r of ofType(type)) {
          const real = await get(collection, r.id!);
          expectField(`${nameOf(r.urn)} name`, real.name, r.inputs!.name);
          expectField(
            `${nameOf(r.urn)} tags`,
            [...(real.tags as string[])].sort(),
            [...(r.inputs!.tags as string[])].sort(),
          );
        }
      }
      for (const r of ofType(NETWORK_TYPES.subnet)) {
        const real = await get("subnets", r.id!);
        expectField(`${nameOf(r.urn)} cidr`, real.cidr, r.inputs!.cidr);
        expectField(
          `${nameOf(r.urn)} allocation_pools`,
          real.allocation_pools,
          withoutBridgeDefaults(r.inputs!.allocationPools),
        );
        expectField(`${nameOf(r.urn)} gateway_ip`, real.gateway_ip, r.inputs!.gatewayIp);
      }
      for (const r of ofType(NETWORK_TYPES.router)) {
        const real = await get("routers", r.id!);
        expectField(
          `${nameOf(r.urn)} gateway network`,
          (real.external_gateway_info as { network_id?: string } | null)?.network_id,
          lab.externalNetwork.id,
        );
      }
      for (const r of ofType(NETWORK_TYPES.routerInterface)) {
        const port = await get("ports", r.id!);
        expectField(`${nameOf(r.urn)} router`, port.device_id, r.inputs!.routerId);
        expectField(
          `${nameOf(r.urn)} subnet`,
          (port.fixed_ips as { subnet_id: string }[]).map((ip) => ip.subnet_id),
          [r.inputs!.subnetId],
        );
      }
      if (problems.length > 0) fail(problems.join("\n"));
      const counts = Object.entries(NETWORK_TYPES).map(([key, type]) => `${ofType(type).length} ${key}`);
      return counts.join(", ");
    },
  );

  const groups = ofType(NETWORK_TYPES.secGroup);
  const rules = ofType(NETWORK_TYPES.secGroupRule);
  const realGroups = await Promise.all(
    groups.map(async (g) => ({ state: g, real: await get("security-groups", g.id!) })),
  );
  const realRules = realGroups.flatMap((g) => g.real.security_group_rules as NeutronObject[]);

  await check(
    "every group holds exactly our rules: the default rules Neutron adds are gone (deleteDefaultRules)",
    () => {
      const problems = realGroups.flatMap(({ state: g, real }) => {
        const want = rules
          .filter((r) => r.inputs!.securityGroupId === g.id)
          .map((r) => r.id!)
          .sort();
        const got = (real.security_group_rules as NeutronObject[]).map((r) => r.id).sort();
        const extra = got.filter((id) => !want.includes(id));
        const missing = want.filter((id) => !got.includes(id));
        return extra.length + missing.length > 0
          ? [`${String(real.name)}: not ours ${extra.join(",") || "-"}; missing ${missing.join(",") || "-"}`]
          : [];
      });
      const toAnywhere = realRules.filter((r) => !r.remote_ip_prefix && !r.remote_group_id);
      if (toAnywhere.length > 0)
        problems.push(
          `${toAnywhere.length} rule(s) to any address (Neutron's defaults): ${toAnywhere.map((r) => r.id).join(", ")}`,
        );
      if (problems.length > 0) fail(problems.join("\n"));
      return `${groups.length} groups, ${realRules.length} rules, all declared`;
    },
  );

  await check("each rule in Neutron has the declared direction, protocol, ports and peer", () => {
    const declared = new Map(rules.map((r) => [r.id!, r.inputs!]));
    const wrong = realRules.flatMap((real) => {
      const want = declared.get(real.id)!;
      const pairs: [string, unknown, unknown][] = [
        ["direction", real.direction, want.direction],
        ["ethertype", real.ethertype, want.ethertype],
        ["protocol", real.protocol, want.protocol],
        ["port_range_min", real.port_range_min, want.portRangeMin],
        ["port_range_max", real.port_range_max, want.portRangeMax],
        ["remote_ip_prefix", real.remote_ip_prefix, want.remoteIpPrefix],
        ["remote_group_id", real.remote_group_id, want.remoteGroupId],
      ];
      return pairs
        .filter(([, got, w]) => (got ?? null) !== (w ?? null))
        .map(([field, got, w]) => `${real.id} ${field}: ${String(got)} ≠ ${String(w)}`);
    });
    if (wrong.length > 0) fail(wrong.join("\n"));
    return `${realRules.length} rules match`;
  });

  await check(
    "no rule admits an address of another environment's plan (address-plan.yaml), and peers are only our groups",
    () => {
      const plan = readAddressPlan();
      const foreign = ENVIRONMENTS.filter((env) => env !== environment).flatMap((env) => [
        plan.environments[env].supernet,
        ...Object.values(plan.environments[env].sites),
      ]);
      if (foreign.length === 0) fail("the address plan has no other environment to compare with");
      const admitted = realRules
        .filter((r) => r.remote_ip_prefix)
        .flatMap((r) =>
          foreign
            .filter((cidr) => cidrOverlaps(String(r.remote_ip_prefix), cidr))
            .map((cidr) => `${r.direction} ${r.remote_ip_prefix} overlaps ${cidr}`),
        );
      const ourGroups = new Set(groups.map((g) => g.id));
      const foreignPeers = realRules.filter((r) => r.remote_group_id && !ourGroups.has(String(r.remote_group_id)));
      if (admitted.length > 0) fail(admitted.join("\n"));
      if (foreignPeers.length > 0)
        fail(`rules naming groups that are not ours: ${foreignPeers.map((r) => r.id).join(", ")}`);
      const byPrefix = realRules.filter((r) => r.remote_ip_prefix).length;
      return `${byPrefix} rules by prefix checked against ${foreign.length} foreign CIDRs; ${realRules.length - byPrefix} by remote group`;
    },
  );
}

// ---------------------------------------------------------------- Nova

interface NovaServer {
  id: string;
  name: string;
  status: string;
  tenant_id: string;
  key_name: string | null;
  flavor: { original_name?: string };
  image: { id?: string } | string;
  "OS-EXT-AZ:availability_zone"?: string;
  "OS-EXT-SRV-ATTR:host"?: string;
}
interface NovaServerGroup {
  id: string;
  name: string;
  project_id: string;
  policies?: string[];
  policy?: string;
  members: string[];
}
// 2.47: a server shows its flavor's name; 2.13: server groups show their project.
const NOVA_HEADERS = { "X-OpenStack-Nova-API-Version": "2.47" };

/** Every server and server group of one project, as Nova's admin API lists them. */
async function novaInventory(
  admin: Session,
  lab: LabInfo,
  projectId: string,
): Promise<{ servers: NovaServer[]; groups: NovaServerGroup[] }> {
  const nova = admin.endpoint("compute", lab.region);
  const servers = (await api<{ servers: NovaServer[] }>(
    admin,
    "GET",
    `${nova}/servers/detail?all_tenants=1&project_id=${projectId}`,
    undefined,
    NOVA_HEADERS,
  ))!.servers;
  const groups = (await api<{ server_groups: NovaServerGroup[] }>(
    admin,
    "GET",
    `${nova}/os-server-groups?all_projects=True`,
    undefined,
    NOVA_HEADERS,
  ))!.server_groups.filter((g) => g.project_id === projectId);
  return { servers, groups };
}

/** What Nova (and Neutron, for the servers' ports) holds after the up, against the state. */
async function novaProofs(
  admin: Session,
  neutron: Neutron,
  lab: LabInfo,
  own: LabProject,
  ofType: (type: string) => StateResource[],
): Promise<void> {
  const instances = ofType(INSTANCE);
  const declaredGroups = ofType(SERVER_GROUP);
  const { servers, groups } = await novaInventory(admin, lab, own.id);
  const serverOf = new Map(servers.map((s) => [s.id, s]));

  await check(
    "Nova runs every declared instance ACTIVE in the stack's project, with the declared flavor, image, zone and keypair, and no other",
    () => {
      const problems: string[] = [];
      const expectField = (what: string, got: unknown, want: unknown) => {
        if (!isDeepStrictEqual(got ?? null, want ?? null))
          problems.push(`${what}: Nova has ${JSON.stringify(got)}, declared ${JSON.stringify(want)}`);
      };
      for (const r of instances) {
        const server = serverOf.get(r.id!);
        const name = nameOf(r.urn);
        if (!server) {
          problems.push(`${name}: no server ${r.id} in project ${own.id}`);
          continue;
        }
        expectField(`${name} status`, server.status, "ACTIVE");
        expectField(`${name} name`, server.name, r.inputs!.name);
        expectField(`${name} flavor`, server.flavor.original_name, r.inputs!.flavorName);
        expectField(
          `${name} image`,
          typeof server.image === "object" ? server.image.id : server.image,
          r.inputs!.imageId,
        );
        expectField(`${name} zone`, server["OS-EXT-AZ:availability_zone"], r.inputs!.availabilityZone);
        expectField(`${name} keypair`, server.key_name, r.inputs!.keyPair);
      }
      const undeclared = servers.filter((s) => !instances.some((r) => r.id === s.id));
      if (undeclared.length > 0) problems.push(`servers not in state: ${undeclared.map((s) => s.name).join(", ")}`);
      if (instances.length === 0) problems.push("the state holds no instance");
      if (problems.length > 0) fail(problems.join("\n"));
      const withKey = servers.filter((s) => s.key_name).length;
      return `${servers.length} servers ACTIVE (${withKey} with keypair ${servers.find((s) => s.key_name)?.key_name ?? "-"})`;
    },
  );

  await check(
    "each server has exactly its declared Neutron port: bound, with the declared address and security groups",
    async () => {
      const problems: string[] = [];
      const portState = new Map(ofType(NETWORK_TYPES.port).map((p) => [p.id!, p]));
      for (const r of instances) {
        const name = nameOf(r.urn);
        const declaredPort = (r.inputs!.networks as { port?: string }[]).map((n) => n.port);
        const attached = await neutron.list("ports", { device_id: r.id! });
        if (
          !isDeepStrictEqual(
            attached.map((p) => p.id),
            declaredPort,
          )
        ) {
          problems.push(
            `${name}: ports ${attached.map((p) => p.id).join(",") || "none"}, declared ${declaredPort.join(",")}`,
          );
          continue;
        }
        const port = attached[0]!;
        const want = portState.get(port.id)?.inputs;
        if (!want) {
          problems.push(`${name}: port ${port.id} is not one of the stack's ports`);
          continue;
        }
        if (port["binding:vif_type"] === "binding_failed" || port.status !== "ACTIVE")
          problems.push(
            `${name}: port ${port.id} is ${String(port.status)}, binding ${String(port["binding:vif_type"])}`,
          );
        // Nodes and the jump host take an address from the subnet's pool (no ipAddress declared).
        const ips = (port.fixed_ips as { subnet_id: string; ip_address: string }[]).map(
          (ip) => `${ip.subnet_id} ${ip.ip_address}`,
        );
        const wantIps = (want.fixedIps as { subnetId: string; ipAddress?: string }[]).map(
          (ip, i) => `${ip.subnetId} ${ip.ipAddress ?? ips[i]?.split(" ")[1]}`,
        );
        if (!isDeepStrictEqual(ips, wantIps))
          problems.push(`${name}: addresses ${ips.join(",")}, declared ${wantIps.join(",")}`);
        const groupsOfPort = [...(port.security_groups as string[])].sort();
        const wantGroups = [...((want.securityGroupIds as string[] | undefined) ?? [])].sort();
        if (!isDeepStrictEqual(groupsOfPort, wantGroups))
          problems.push(`${name}: security groups ${groupsOfPort.join(",")}, declared ${wantGroups.join(",")}`);
        if (port.port_security_enabled !== true) problems.push(`${name}: port security is off on ${port.id}`);
      }
      if (problems.length > 0) fail(problems.join("\n"));
      return `${instances.length} servers, one declared port each, all ACTIVE with their declared address and groups`;
    },
  );

  await check(
    "Nova holds every declared server group with its policy, and each server is a member of the group its scheduler hint names",
    () => {
      const problems: string[] = [];
      for (const g of declaredGroups) {
        const real = groups.find((x) => x.id === g.id);
        if (!real) {
          problems.push(`${nameOf(g.urn)}: no server group ${g.id}`);
          continue;
        }
        const policies = real.policies ?? (real.policy ? [real.policy] : []);
        if (!isDeepStrictEqual(policies, g.inputs!.policies))
          problems.push(
            `${nameOf(g.urn)}: policies ${policies.join(",")}, declared ${JSON.stringify(g.inputs!.policies)}`,
          );
        const wantMembers = instances
          .filter((r) => (r.inputs!.schedulerHints as { group?: string }[] | undefined)?.some((h) => h.group === g.id))
          .map((r) => r.id!)
          .sort();
        if (!isDeepStrictEqual([...real.members].sort(), wantMembers))
          problems.push(`${nameOf(g.urn)}: members ${real.members.length}, declared ${wantMembers.length}`);
        // The lab has two compute hosts: Nova's scheduler must have kept hard anti-affinity.
        const hosts = real.members.map((id) => serverOf.get(id)?.["OS-EXT-SRV-ATTR:host"]);
        if (policies.includes("anti-affinity") && new Set(hosts).size !== hosts.length)
          problems.push(`${nameOf(g.urn)}: anti-affinity members share a host (${hosts.join(", ")})`);
      }
      const undeclared = groups.filter((x) => !declaredGroups.some((g) => g.id === x.id));
      if (undeclared.length > 0)
        problems.push(`server groups not in state: ${undeclared.map((x) => x.name).join(", ")}`);
      if (declaredGroups.length === 0) problems.push("the state holds no server group");
      if (problems.length > 0) fail(problems.join("\n"));
      const members = groups.reduce((n, g) => n + g.members.length, 0);
      return `${groups.length} server groups (${[...new Set(groups.flatMap((g) => g.policies ?? [g.policy]))].join(", ")}), ${members} members`;
    },
  );
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const started = performance.now();
  console.log("== engine tier: real Pulumi CLI + inline program (stacks/index.ts) + real OpenStack provider plugin");
  const run = prepare();
  try {
    if (process.env.SKE_ENGINE_SKIP_OFFLINE !== "1") await failedApply(run);
    if (process.env.SKE_ENGINE_SKIP_LAB !== "1") await labTier(run);
  } catch (err) {
    // A step outside any check (setup, lab start) failed: count it, keep its words.
    outcomes.push({
      name: "engine tier setup",
      status: "failed",
      detail: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    console.log(`  FAIL engine tier setup: ${err instanceof Error ? err.stack : String(err)}`);
  } finally {
    fs.rmSync(run.work, { recursive: true, force: true });
  }
  console.log("\n== wall times");
  for (const { label, seconds } of timings) console.log(`  ${seconds.toFixed(1).padStart(6)} s  ${label}`);
  console.log(`  ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s  engine tier in total`);
  const count = (status: Outcome["status"]) => outcomes.filter((o) => o.status === status);
  const failed = count("failed");
  for (const o of failed) console.log(`  FAILED ${o.name}`);
  for (const o of count("skipped")) console.log(`  SKIPPED ${o.name} (${o.detail})`);
  console.log(`engine: ${count("passed").length} passed, ${failed.length} failed, ${count("skipped").length} skipped`);
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    console.log("engine: 0 passed, 1 failed, 0 skipped");
    process.exit(1);
  },
);
