import { beforeAll, describe, expect, it } from "vitest";
import { loadPlatformConfig, readAddressPlan } from "../config/load";
import { policyContext } from "../policy/context";
import { ENVIRONMENT_TYPES, environmentGates } from "../policy/environment-gates";
import { evaluatePolicies } from "../policy/evaluate";
import type { PolicyContext, PolicyResource } from "../policy/model";
import { readStackFile } from "../config/stack-file";
import { STACKS, committedConfig, stackFilePath, synthOk } from "./support/stacks";

const contextOf = (stack: string): PolicyContext => {
  const { config, addressPlan } = loadPlatformConfig(readStackFile(stackFilePath(stack), stack), readAddressPlan());
  return policyContext(config, addressPlan);
};

/** The GitHub environment resources and branch patterns the committed stack registers, as the policy sees them. */
async function environmentResources(stack: string): Promise<PolicyResource[]> {
  const run = await synthOk(stack);
  return run.resources
    .filter((r) => r.type === ENVIRONMENT_TYPES.environment || r.type === ENVIRONMENT_TYPES.deploymentPolicy)
    .map((r) => ({ type: r.type, name: r.name, props: structuredClone<Record<string, unknown>>(r.inputs) }));
}
const judge = (resources: PolicyResource[], ctx: PolicyContext) =>
  environmentGates.validate({ resources, outputs: [] }, ctx).map((v) => v.message);
/** The IaC repository, from the committed production stack file. */
const IAC_REPOSITORY: string = committedConfig("production")["ske-platform:github"].iacRepository;
const envNamed = (resources: PolicyResource[], name: string) => {
  const found = resources.find(
    (r) =>
      r.type === ENVIRONMENT_TYPES.environment && r.props.environment === name && r.props.repository === IAC_REPOSITORY,
  );
  expect(found, name).toBeDefined();
  return found!;
};

describe("environments-two-person-6-2", () => {
  const committed = new Map<string, PolicyResource[]>();
  beforeAll(async () => {
    for (const stack of STACKS) committed.set(stack, await environmentResources(stack));
  });
  const fresh = (stack: string) => structuredClone(committed.get(stack)!);

  it.each(STACKS)("passes the environments the committed %s stack declares", (stack) => {
    const resources = committed.get(stack)!;
    expect(resources.filter((r) => r.type === ENVIRONMENT_TYPES.environment).length).toBeGreaterThanOrEqual(4);
    expect(judge(resources, contextOf(stack))).toEqual([]);
  });

  it("fails production when its preview environment loses its reviewers, and the 6.2 verdict is FAIL", () => {
    const resources = fresh("production");
    envNamed(resources, "production-preview").props.reviewers = [];
    expect(judge(resources, contextOf("production"))).toEqual([
      "environment production-preview: must require the team's approval with self-review prevented",
    ]);
    const [result] = evaluatePolicies({ resources, outputs: [] }, contextOf("production"), [environmentGates]);
    expect(result).toMatchObject({ status: "fail", control: "6.2" });
  });

  it("fails staging when the starter may approve their own preview", () => {
    const resources = fresh("staging");
    envNamed(resources, "staging-preview").props.preventSelfReview = false;
    expect(judge(resources, contextOf("staging"))).toEqual([
      "environment staging-preview: must require the team's approval with self-review prevented",
    ]);
  });

  it("fails any stack whose environment lets admins bypass it", () => {
    const resources = fresh("test");
    envNamed(resources, "test").props.canAdminsBypass = true;
    expect(judge(resources, contextOf("test"))).toEqual([
      "environment test: admins can bypass its protection (canAdminsBypass is not false)",
    ]);
  });

  it("fails when the drift environment serves a branch other than main", () => {
    const resources = fresh("production");
    const pattern = resources.find(
      (r) => r.type === ENVIRONMENT_TYPES.deploymentPolicy && r.props.environment === "production-drift",
    )!;
    pattern.props.branchPattern = "*";
    expect(judge(resources, contextOf("production"))).toEqual([
      "environment production-drift: must serve main only (branch patterns: *, custom policy true)",
    ]);
  });

  it("fails an extra production environment that any branch may use without approval, and lets test's preview stay automatic", () => {
    const resources = fresh("production");
    const preview = envNamed(resources, "production-preview");
    resources.push({
      ...preview,
      name: "adhoc",
      props: { ...preview.props, environment: "production-adhoc", reviewers: [] },
    });
    expect(judge(resources, contextOf("production"))).toEqual([
      "environment production-adhoc: serves any branch with no second person's approval in production",
    ]);
    expect(envNamed(fresh("test"), "test-preview").props.reviewers).toEqual([]);
  });
});
