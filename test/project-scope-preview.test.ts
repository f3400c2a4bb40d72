import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { loadPlatformConfig, readAddressPlan } from "../config/load";
import { readProjectPlan } from "../config/projects";
import { buildPlatformPlan } from "../plan/platform-plan";
import { AUTH_SCOPE_TOKEN, checkProjectScopes, ProjectScopeError } from "../stacks/project-scope";
import { readStackFile } from "../config/stack-file";
import { stackFilePath } from "./support/stacks";
import { within } from "./support/timed";

const { config, addressPlan } = loadPlatformConfig(
  readStackFile(stackFilePath("staging"), "staging"),
  readAddressPlan(),
);
const plan = buildPlatformPlan(config, addressPlan);

/** Mocks in which Keystone never answers, as with no credentials at all. */
async function keystoneSilent(preview: boolean): Promise<string[]> {
  const asked: string[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (a) => ({ id: `${a.name}_id`, state: a.inputs }),
      call: (a) => {
        if (a.token === AUTH_SCOPE_TOKEN) {
          asked.push(String(a.inputs.name));
          throw new Error("no OpenStack credentials: missing authUrl (OS_AUTH_URL)");
        }
        return a.inputs;
      },
    },
    "ske-platform",
    "staging",
    preview,
  );
  return asked;
}

describe("the project-scope check without a Keystone answer", () => {
  it("lets a preview go on, with one warning per site saying the scope was not checked", async () => {
    const asked = await keystoneSilent(true);
    const warnings: string[] = [];
    const providers = await within(
      checkProjectScopes({
        plan,
        projects: readProjectPlan(),
        projectsFile: "openstack-projects.yaml",
        dryRun: pulumi.runtime.isDryRun(),
        warn: (m) => warnings.push(m),
      }),
      10_000,
      "check",
    );
    expect([...providers.keys()]).toEqual(["osl2", "sto2"]);
    expect(asked.sort()).toEqual(["staging-osl2-project-scope", "staging-sto2-project-scope"]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(
      /^staging\/osl2: project scope NOT checked in this preview, Keystone did not answer \(.*\)\. `pulumi up` refuses to run until it does\.$/,
    );
  });

  it("refuses an up, naming every site", async () => {
    await keystoneSilent(false);
    const warnings: string[] = [];
    const check = checkProjectScopes({
      plan,
      projects: readProjectPlan(),
      projectsFile: "openstack-projects.yaml",
      dryRun: pulumi.runtime.isDryRun(),
      warn: (m) => warnings.push(m),
    });
    const error = await within(
      check.then(
        () => undefined,
        (err: unknown) => err,
      ),
      10_000,
      "check",
    );
    expect(error).toBeInstanceOf(ProjectScopeError);
    expect((error as ProjectScopeError).problems.map((p) => p.split(":")[0])).toEqual(["staging/osl2", "staging/sto2"]);
    expect(warnings).toEqual([]);
  });
});
