import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { loadPlatformConfig, readAddressPlan } from "../config/load";
import { readProjectPlan } from "../config/projects";
import { siteRequirements } from "../plan/capacity";
import { buildPlatformPlan } from "../plan/platform-plan";
import { checkPreflight, PreflightError } from "../stacks/preflight";
import { siteProvider } from "../stacks/sites";
import { synthesize } from "../synth";
import { preflightInvoke, roomyCloud, type FakeCloud } from "../synth/fake-preflight";
import { runProgram, type RunOptions } from "../synth/mock-runtime";
import { readStackFile } from "../config/stack-file";
import { stackFilePath, variantFile } from "./support/stacks";
import { within } from "./support/timed";

const { config, addressPlan } = loadPlatformConfig(
  readStackFile(stackFilePath("production"), "production"),
  readAddressPlan(),
);
const plan = buildPlatformPlan(config, addressPlan);

const synthWith = (cloud: FakeCloud) =>
  within(synthesize({ stack: "production", configFile: stackFilePath("production"), cloud }), 30_000, "synth");

function cloudWith(edit: (cloud: FakeCloud) => void): FakeCloud {
  const cloud = roomyCloud(config);
  edit(cloud);
  return cloud;
}

describe("pre-flight in the program (production, fake cloud through the data sources)", () => {
  it("passes when the cloud has every flavor, image, zone and network and quota room, and the program goes on", async () => {
    const result = await synthWith(roomyCloud(config));
    if (!result.ok) throw new Error(result.error);
    expect(result.resources.filter((r) => r.type === "openstack:compute/instance:Instance").length).toBeGreaterThan(20);
    expect(result.summary).toContain("Pre-flight: the lookups ran against the cloud this run was given, and passed.");
  }, 30_000);

  it("refuses with one message listing every problem of every site, and registers nothing but the site providers", async () => {
    const sto2 = config.sites.sto2!;
    const osl2 = config.sites.osl2!;
    const result = await synthWith(
      cloudWith((cloud) => {
        delete cloud.sto2!.flavors[sto2.flavors.worker];
        cloud.sto2!.activeImageIds = cloud.sto2!.activeImageIds.filter((id) => id !== sto2.talosImageId);
        cloud.osl2!.availabilityZones = osl2.availabilityZones.slice(1);
        cloud.osl2!.limits.maxTotalCores = 48;
        cloud.osl2!.limits.totalCoresUsed = 0;
        cloud.osl2!.quota.securityGroupRule = 10;
      }),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const ruleCount = plan.sites.find((s) => s.name === "osl2")!.security.rules.length;
    const osl2Instances = siteRequirements({ plan, clustersLayer: true, runners: config.runners }).find(
      (r) => r.site === "osl2",
    )!.counts.instances;
    expect(result.error).toContain("Refusing to deploy production: pre-flight found 5 problems");
    expect(result.error).toContain(`  osl2 (region osl2, project `);
    expect(result.error).toContain(
      `    - sites.osl2.availabilityZones[0]: availability zone "${osl2.availabilityZones[0]}" not found in region osl2`,
    );
    // The fake cloud's flavors are 4 vCPU each.
    expect(result.error).toContain(`    - project quota: cores 48 free, plan needs ${osl2Instances * 4}`);
    expect(result.error).toContain(
      `    - project quota: security-group rules limit 10, plan needs ${ruleCount} in all`,
    );
    expect(result.error).toContain(
      `    - sites.sto2.flavors.worker: flavor "${sto2.flavors.worker}" not found in region sto2`,
    );
    expect(result.error).toContain(
      `    - sites.sto2.talosImageId: image ${sto2.talosImageId} not found or not active in region sto2`,
    );
    expect(result.error.indexOf("  osl2 (")).toBeLessThan(result.error.indexOf("  sto2 ("));
    expect(
      result.registered
        ?.map((r) => r.type)
        .filter((t) => t !== "pulumi:providers:openstack" && t !== "pulumi:pulumi:Stack"),
    ).toEqual([]);
  }, 30_000);

  it("takes asynchronous answers, as from a real cloud's APIs (the lab tier's path)", async () => {
    const fake = preflightInvoke(
      cloudWith((c) => {
        c.sto2!.limits.maxTotalInstances = 3;
      }),
    );
    const asked: string[] = [];
    const result = await within(
      synthesize({
        stack: "production",
        configFile: stackFilePath("production"),
        cloud: async (a) => {
          asked.push(a.token);
          await new Promise((resolve) => setTimeout(resolve, 5));
          return fake(a);
        },
      }),
      30_000,
      "synth",
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatch(/ {4}- project quota: instances 3 free, plan needs \d+/);
    expect(new Set(asked)).toEqual(
      new Set([
        "openstack:compute/getFlavor:getFlavor",
        "openstack:images/getImageIds:getImageIds",
        "openstack:compute/getAvailabilityZones:getAvailabilityZones",
        "openstack:networking/getNetwork:getNetwork",
        "openstack:compute/getLimitsV2:getLimitsV2",
        "openstack:networking/getQuotaV2:getQuotaV2",
        "openstack:networking/getPortIds:getPortIds",
        "openstack:identity/getAuthScope:getAuthScope",
      ]),
    );
  }, 30_000);

  it("falls back to the quota set when Nova refuses a member the project's limits, and checks the limits alone", async () => {
    const osl2Instances = siteRequirements({ plan, clustersLayer: true, runners: config.runners }).find(
      (r) => r.site === "osl2",
    )!.counts.instances;
    const passed = await synthWith(
      cloudWith((c) => {
        c.osl2!.limitsForbidden = true;
        c.osl2!.limits.totalCoresUsed = 9999;
      }),
    );
    expect(passed.ok).toBe(true);
    const refused = await synthWith(
      cloudWith((c) => {
        c.osl2!.limitsForbidden = true;
        c.osl2!.limits.maxTotalCores = 48;
      }),
    );
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.error).toContain(
      `    - project quota: cores limit 48, plan needs ${osl2Instances * 4} in all (usage is not reported through the provider)`,
    );
  }, 30_000);

  it("asks Nova and Glance nothing for a site without instances (the lab's network-only stack)", async () => {
    const file = variantFile("test", (c) => {
      c["ske-platform:layers"] = { clusters: false, bootstrap: false, kubernetes: false, github: false };
      delete c["ske-platform:runners"];
    });
    const { config: testConfig } = loadPlatformConfig(readStackFile(file, "test"), readAddressPlan());
    const fake = preflightInvoke(roomyCloud(testConfig));
    const asked = new Set<string>();
    const result = await within(
      synthesize({
        stack: "test",
        configFile: file,
        cloud: (a) => {
          asked.add(a.token);
          return fake(a);
        },
      }),
      30_000,
      "synth",
    );
    if (!result.ok) throw new Error(result.error);
    expect([...asked].sort()).toEqual([
      "openstack:identity/getAuthScope:getAuthScope",
      "openstack:networking/getNetwork:getNetwork",
      "openstack:networking/getPortIds:getPortIds",
      "openstack:networking/getQuotaV2:getQuotaV2",
    ]);
  }, 30_000);

  it("refuses an up when the cloud cannot be asked at all", async () => {
    const result = await synthWith(
      cloudWith((cloud) => {
        cloud.sto2!.unreachable = 'Post "https://nova.sto2": connection refused';
      }),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatch(
      /sto2 \(region sto2, project [^\n]*\):\n {4}- pre-flight could not ask the cloud \(.*connection refused.*\); nothing is deployed unchecked/,
    );
    expect(result.error).not.toContain("  osl2 (");
  }, 30_000);

  it("asks nothing in the offline synth and says so beside the requirements", async () => {
    const result = await within(
      synthesize({ stack: "production", configFile: stackFilePath("production") }),
      30_000,
      "synth",
    );
    if (!result.ok) throw new Error(result.error);
    expect(result.summary).toMatch(/Pre-flight: lookups skipped \(offline synth, no cloud to ask\)/);
    expect(result.summary).toMatch(/^ {2}osl2 \(region osl2\): \d+ instances \(/m);
    expect(result.capacity).toContain("| site | region | instances | ports |");
  }, 30_000);
});

describe("pre-flight in a preview", () => {
  /** checkPreflight as a preview runs it (dryRun) inside the mocked program: what it threw, or undefined. */
  async function previewPreflight(
    cloud: FakeCloud,
    options: { warn?: (message: string) => void; invoke?: RunOptions["invoke"] } = {},
  ): Promise<unknown> {
    let error: unknown;
    await runProgram({
      stackFile: readStackFile(stackFilePath("production"), "production"),
      cloud,
      entry: async () => {
        const providers = new Map(plan.sites.map((s) => [s.name, siteProvider(s)] as const));
        error = await checkPreflight({
          plan,
          requirements: siteRequirements({ plan, clustersLayer: true, runners: config.runners }),
          providers,
          projects: readProjectPlan(),
          dryRun: true,
          ...(options.warn ? { warn: options.warn } : {}),
          info: () => {},
        }).then(
          () => undefined,
          (e: unknown) => e,
        );
        return {};
      },
      ...(options.invoke ? { invoke: options.invoke } : {}),
    });
    return error;
  }

  it("goes on with a warning per site when the cloud cannot be asked", async () => {
    const cloud = cloudWith((c) => {
      for (const region of Object.values(c)) region.unreachable = "no OpenStack credentials";
    });
    const warnings: string[] = [];
    const error = await previewPreflight(cloud, {
      warn: (m) => warnings.push(m),
      invoke: (a) => preflightInvoke(cloud)(a),
    });
    expect(error).toBeUndefined();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(
      /^production\/osl2: pre-flight NOT checked in this preview \(.*no OpenStack credentials\)\. `pulumi up` refuses to run until it is\.$/,
    );
  }, 30_000);

  it("still refuses a preview for what the cloud did answer", async () => {
    const cloud = cloudWith((c) => {
      delete c.osl2!.flavors[config.sites.osl2!.flavors.jumpHost];
    });
    const error = await previewPreflight(cloud);
    expect(error).toBeInstanceOf(PreflightError);
    expect((error as Error).message).toContain(
      `sites.osl2.flavors.jumpHost: flavor "${config.sites.osl2!.flavors.jumpHost}" not found in region osl2`,
    );
  }, 30_000);
});

void pulumi;
