import { beforeAll, describe, expect, it } from "vitest";
import { loadPlatformConfig, readAddressPlan } from "../config/load";
import { policyContext } from "../policy/context";
import { evaluatePolicies } from "../policy/evaluate";
import type { PolicyContext, PolicyResource } from "../policy/model";
import { RUNNER_GROUP_TYPE, runnerGroupWorkflowsOnMain } from "../policy/runner-group";
import { readStackFile } from "../config/stack-file";
import { stackFilePath, synthOk, variantFile } from "./support/stacks";

const P = "ske-platform:";
const contextOf = (stack: string): PolicyContext => {
  const { config, addressPlan } = loadPlatformConfig(readStackFile(stackFilePath(stack), stack), readAddressPlan());
  return policyContext(config, addressPlan);
};
const withRegistration = (stack: string) =>
  variantFile(stack, (c) => {
    c[`${P}runners`].registration = { repositoryId: 812345678, appId: 912345, installationId: 51234567 };
  });
async function runnerGroups(stack: string): Promise<PolicyResource[]> {
  const run = await synthOk(stack, withRegistration(stack));
  return run.resources
    .filter((r) => r.type === RUNNER_GROUP_TYPE)
    .map((r) => ({ type: r.type, name: r.name, props: structuredClone<Record<string, unknown>>(r.inputs) }));
}
const judge = (resources: PolicyResource[], stack: string) =>
  evaluatePolicies({ resources, outputs: [] }, contextOf(stack), [runnerGroupWorkflowsOnMain])[0]!;

describe("runner-group-workflows-on-main-6-2", () => {
  const groups = new Map<string, PolicyResource[]>();
  // Two full synths: 10 s (vitest's default) is not enough on a loaded CI machine.
  beforeAll(async () => {
    for (const stack of ["production", "test"]) groups.set(stack, await runnerGroups(stack));
  }, 60_000);

  it("passes production's group as the program declares it: this repository, workflow files at main", () => {
    const result = judge(groups.get("production")!, "production");
    expect(result.checked).toHaveLength(1);
    expect(result.status).toBe("pass");
  });

  it("fails production when its group admits every workflow, or a workflow at another ref, or public repositories", () => {
    const open = structuredClone(groups.get("production")!);
    open[0]!.props.restrictedToWorkflows = false;
    const failed = judge(open, "production");
    expect(failed.status).toBe("fail");
    expect(failed.violations.map((v) => v.message)).toEqual([
      "admits every workflow of the repository (restrictedToWorkflows is not true)",
    ]);

    const branch = structuredClone(groups.get("production")!);
    branch[0]!.props.selectedWorkflows = ["nordic-ske/ske-platform/.github/workflows/drift.yml@refs/heads/feature"];
    expect(judge(branch, "production").violations.map((v) => v.message)).toEqual([
      "admits workflows outside @refs/heads/main: nordic-ske/ske-platform/.github/workflows/drift.yml@refs/heads/feature",
    ]);

    const pub = structuredClone(groups.get("production")!);
    pub[0]!.props.allowsPublicRepositories = true;
    pub[0]!.props.visibility = "all";
    expect(judge(pub, "production").violations).toHaveLength(2);
  });

  it("does not apply to test, whose group admits any workflow because its previews run pull-request code by design", () => {
    const result = judge(groups.get("test")!, "test");
    expect(groups.get("test")![0]!.props.restrictedToWorkflows).toBe(false);
    expect(result.status).toBe("not-applicable");
  });

  it("reports n/a, not pass, while production has no runner group yet (no registration)", () => {
    expect(judge([], "production").status).toBe("not-applicable");
  });
});
