/**
 * What Keystone would answer to the program's project-scope question
 * (stacks/project-scope.ts) under the mock runtime. By default the synth
 * answers as if the credentials were exactly those of the declared project,
 * so the offline synth runs the same check `pulumi up` runs and passes it;
 * tests pass another answer to see the refusal.
 */
import type * as pulumi from "@pulumi/pulumi";
import { ENVIRONMENTS, type EnvironmentName } from "../plan/address-plan";
import { declaredProject, type ProjectPlan } from "../plan/project-plan";
import { AUTH_SCOPE_TOKEN, scopeCheckName } from "../stacks/project-scope";

/** The getAuthScope fields the check reads, as the data source names them. */
export interface FakeAuthScope {
  projectId: string;
  projectName: string;
  projectDomainName: string;
  userName: string;
}

/** Which project the credentials of `environment`/`site` are scoped to; undefined: Keystone cannot be asked. */
export type AuthScopeAnswer = (environment: EnvironmentName, site: string) => FakeAuthScope | undefined;

/** Credentials scoped exactly as openstack-projects.yaml declares. */
export function declaredScope(projects: ProjectPlan): AuthScopeAnswer {
  return (environment, site) => {
    const project = declaredProject(projects, environment, site);
    return (
      project && {
        projectId: project.id,
        projectName: project.name,
        projectDomainName: project.domain,
        userName: "synth-fake-user",
      }
    );
  };
}

function siteOf(name: string): { environment: EnvironmentName; site: string } | undefined {
  for (const environment of ENVIRONMENTS) {
    const site = scopeCheckName(environment, "\0").split("\0");
    if (name.startsWith(site[0]!) && name.endsWith(site[1]!)) {
      return { environment, site: name.slice(site[0]!.length, name.length - site[1]!.length) };
    }
  }
  return undefined;
}

/** A mock `call` handler for getAuthScope; other invokes are left to the default. */
export function authScopeInvoke(answer: AuthScopeAnswer) {
  return (args: pulumi.runtime.MockCallArgs): Record<string, unknown> | undefined => {
    if (args.token !== AUTH_SCOPE_TOKEN) return undefined;
    const inputs = args.inputs as Record<string, unknown>;
    const where = siteOf(String(inputs.name));
    const scope = where && answer(where.environment, where.site);
    if (!scope) throw new Error(`synth: no Keystone answers for ${String(inputs.name)}`);
    return {
      ...scope,
      id: `synth-fake-scope-${String(inputs.name)}`,
      name: inputs.name,
      region: inputs.region,
      tokenId: "",
    };
  };
}
