import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ConfigError, loadPlatformConfig, readAddressPlan, type ConfigProblem } from "../config/load";
import { PROJECTS_FILE, readProjectPlan, stackProjectProblems, validateProjectPlan } from "../config/projects";
import { scopeProblem, type ProjectPlan } from "../plan/project-plan";
import { synthesize } from "../synth";
import { declaredScope } from "../synth/fake-auth-scope";
import { readStackFile } from "../config/stack-file";
import { STACKS, stackFilePath, variantFile } from "./support/stacks";
import { within } from "./support/timed";

const committedPlan = () => parse(fs.readFileSync(PROJECTS_FILE, "utf8")) as Record<string, any>;

function problemsOf(raw: unknown): ConfigProblem[] {
  try {
    validateProjectPlan(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

/** A variant of openstack-projects.yaml in a temp file, for the program to read through SKE_PROJECTS_FILE. */
function planFile(edit: (plan: Record<string, any>) => void): string {
  const plan = committedPlan();
  edit(plan);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ske-projects-")), "openstack-projects.yaml");
  fs.writeFileSync(file, stringify(plan));
  return file;
}

afterEach(() => {
  delete process.env.SKE_PROJECTS_FILE;
});

describe("openstack-projects.yaml", () => {
  const plan = readProjectPlan();

  it.each(STACKS)("declares a project for every site of Pulumi.%s.yaml, owned by no other environment", (stack) => {
    const raw = readStackFile(stackFilePath(stack), stack);
    const { config } = loadPlatformConfig(raw, readAddressPlan());
    expect(stackProjectProblems(config, raw, plan)).toEqual([]);
    const own = Object.values(plan.environments[config.environment]).map((p) => p.id);
    const others = Object.entries(plan.environments)
      .filter(([env]) => env !== stack)
      .flatMap(([, sites]) => Object.values(sites).map((p) => p.id));
    expect(own.length).toBeGreaterThan(0);
    expect(own.filter((id) => others.includes(id))).toEqual([]);
  });

  it("refuses a project id shared between environments, naming the file and the key", () => {
    const problems = problemsOf(
      (() => {
        const p = committedPlan();
        p.environments.staging.sto2.id = p.environments.production.osl2.id;
        return p;
      })(),
    );
    expect(problems).toEqual([
      {
        file: "openstack-projects.yaml",
        key: "environments.staging.sto2.id",
        message: expect.stringMatching(/is also production\/osl2's project: a project belongs to one environment only/),
      },
    ]);
  });

  it("refuses one name in one domain of one site declared for two environments", () => {
    const problems = problemsOf(
      (() => {
        const p = committedPlan();
        p.environments.test.osl2.name = p.environments.staging.osl2.name;
        return p;
      })(),
    );
    expect(problems.map((p) => p.key)).toEqual(["environments.test.osl2.name"]);
    expect(problems[0]!.message).toMatch(/"ske-staging" in domain Default is also staging\/osl2's project/);
  });

  it("lets two sites of one environment share a project (sites behind one Keystone)", () => {
    const p = committedPlan();
    p.environments.production.sto2 = { ...p.environments.production.osl2 };
    expect(problemsOf(p)).toEqual([]);
  });

  it("refuses a project named instead of identified", () => {
    const p = committedPlan();
    p.environments.production.osl2.id = "ske-production";
    expect(problemsOf(p)).toEqual([
      expect.objectContaining({
        key: "environments.production.osl2.id",
        message: expect.stringMatching(/Keystone project id/),
      }),
    ]);
  });

  it("a stack is refused, registering nothing, when the plan shares a project", async () => {
    process.env.SKE_PROJECTS_FILE = planFile((p) => {
      p.environments.test.osl2.id = p.environments.production.sto2.id;
    });
    const result = await within(synthesize({ stack: "test", configFile: stackFilePath("test") }), 20_000, "synth");
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toContain("openstack-projects.yaml: environments.test.osl2.id:");
    expect(result.error).toContain("is also production/sto2's project");
    expect((result.registered ?? []).filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
  });

  it("a stack site without a declared project is refused with the stack file and key", async () => {
    process.env.SKE_PROJECTS_FILE = planFile((p) => {
      p.environments.test = { hel1: p.environments.test.osl2 };
    });
    const result = await within(
      synthesize({ stack: "test", configFile: variantFile("test", () => undefined) }),
      20_000,
      "synth",
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatch(
      /Pulumi\.test\.yaml: ske-platform:sites\.osl2: openstack-projects\.yaml declares no OpenStack project for test\/osl2; declared sites of test: hel1/,
    );
  });
});

describe("the project-scope check before anything is registered", () => {
  const plan: ProjectPlan = readProjectPlan();
  const declared = declaredScope(plan);

  it("passes with credentials scoped to the declared project, and every site's provider asked", async () => {
    const asked: string[] = [];
    const result = await within(
      synthesize({
        stack: "production",
        configFile: stackFilePath("production"),
        authScope: (env, site) => {
          asked.push(`${env}/${site}`);
          return declared(env, site);
        },
      }),
      20_000,
      "synth",
    );
    expect(result.ok).toBe(true);
    expect(asked.sort()).toEqual(["production/osl2", "production/sto2"]);
  });

  it("refuses production run with staging's credentials, naming both projects, with only the providers registered", async () => {
    const result = await within(
      synthesize({
        stack: "production",
        configFile: stackFilePath("production"),
        authScope: (_env, site) => declared("staging", site),
      }),
      20_000,
      "synth",
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const prod = plan.environments.production.osl2!;
    const staging = plan.environments.staging.osl2!;
    expect(result.error).toContain("Refusing to deploy production");
    expect(result.error).toContain(
      `scoped to project "${staging.name}" (id ${staging.id}, domain Default), which is staging's project in osl2`,
    );
    expect(result.error).toContain(`declares "${prod.name}" (id ${prod.id}, domain Default) for production/osl2`);
    // The two providers are how Keystone was asked; nothing else exists, not even a component.
    expect((result.registered ?? []).map((r) => r.type).sort()).toEqual([
      "pulumi:providers:openstack",
      "pulumi:providers:openstack",
      "pulumi:pulumi:Stack",
    ]);
  });

  it("refuses staging run with production's credentials in one site only", async () => {
    const result = await within(
      synthesize({
        stack: "staging",
        configFile: stackFilePath("staging"),
        authScope: (env, site) => (site === "sto2" ? declared("production", site) : declared(env, site)),
      }),
      20_000,
      "synth",
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatch(
      /staging\/sto2 are scoped to project "ske-production" .*which is production's project in sto2/,
    );
    expect(result.error).not.toMatch(/staging\/osl2/);
    expect((result.registered ?? []).filter((r) => !r.type.startsWith("pulumi:"))).toEqual([]);
  });

  it("refuses an up when Keystone cannot be asked", async () => {
    const result = await within(
      synthesize({ stack: "test", configFile: stackFilePath("test"), authScope: () => undefined }),
      20_000,
      "synth",
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatch(
      /test\/osl2: Keystone could not be asked which project the credentials are scoped to .*nothing is deployed unchecked/,
    );
    expect((result.registered ?? []).filter((r) => !r.type.startsWith("pulumi:"))).toEqual([]);
  });

  it("compares ids, and keeps the declared name honest", () => {
    const prod = plan.environments.production.osl2!;
    const scope = { projectId: prod.id, projectName: prod.name, projectDomainName: prod.domain };
    expect(scopeProblem(plan, "production", "osl2", scope)).toBeUndefined();
    // Same name, other id: a re-created or look-alike project is not ours.
    expect(scopeProblem(plan, "production", "osl2", { ...scope, projectId: "0".repeat(32) })).toMatch(
      /scoped to project "ske-production" \(id 0{32}/,
    );
    expect(scopeProblem(plan, "production", "osl2", { ...scope, projectName: "ske-prod-renamed" })).toMatch(
      /is "ske-prod-renamed" .* in Keystone, but openstack-projects.yaml names it "ske-production".*correct the file/,
    );
  });
});
