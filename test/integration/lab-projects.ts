/**
 * One Keystone project per environment in the lab, those whose credentials a
 * run uses with a deployer user holding `member` (what a project's deployer
 * has, no more), and the project
 * plan that declares them, in openstack-projects.yaml format. The engine tier
 * points the program at that plan (SKE_PROJECTS_FILE): the committed plan
 * holds the real deployment's ids, which the lab cannot have.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { ENVIRONMENTS, type EnvironmentName } from "../../plan/address-plan";
import type { LabInfo, Session } from "./lab";

export interface LabProject {
  environment: EnvironmentName;
  id: string;
  name: string;
  domain: string;
  /** Only for the environments whose credentials a run uses. */
  deployer?: { userId: string; userName: string; password: string };
}

export type LabProjects = Record<EnvironmentName, LabProject>;

async function keystone<T>(lab: LabInfo, admin: Session, method: string, resource: string, body?: unknown): Promise<T> {
  const response = await fetch(`${lab.keystoneUrl}${resource}`, {
    method,
    headers: { "X-Auth-Token": admin.token, "Content-Type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`Keystone refused ${method} ${resource}: HTTP ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * Creates the projects and users. Names carry a per-run suffix, so a lab kept
 * between runs (SKE_LAB_DIR) never hands a run another run's project.
 */
export async function createLabProjects(
  lab: LabInfo,
  admin: Session,
  deployers: readonly EnvironmentName[],
): Promise<LabProjects> {
  const suffix = randomBytes(3).toString("hex");
  const roles = await keystone<{ roles: { id: string }[] }>(lab, admin, "GET", "/roles?name=member");
  const member = roles.roles[0]?.id;
  if (!member) throw new Error("the lab's Keystone has no `member` role (keystone-manage bootstrap creates it)");
  const domain = await keystone<{ domain: { name: string } }>(lab, admin, "GET", `/domains/${lab.domainId}`);
  const created: Partial<LabProjects> = {};
  for (const environment of ENVIRONMENTS) {
    const name = `ske-${environment}-${suffix}`;
    const { project } = await keystone<{ project: { id: string } }>(lab, admin, "POST", "/projects", {
      project: { name, domain_id: lab.domainId, description: `ske-platform ${environment} (integration lab)` },
    });
    created[environment] = { environment, id: project.id, name, domain: domain.domain.name };
    if (!deployers.includes(environment)) continue;
    const password = randomBytes(18).toString("base64url");
    const userName = `${name}-deployer`;
    const { user } = await keystone<{ user: { id: string } }>(lab, admin, "POST", "/users", {
      user: { name: userName, password, domain_id: lab.domainId, default_project_id: project.id },
    });
    await keystone(lab, admin, "PUT", `/projects/${project.id}/users/${user.id}/roles/${member}`);
    created[environment].deployer = { userId: user.id, userName, password };
  }
  return created as LabProjects;
}

/** Deletes what createLabProjects made; a lab kept for inspection stays tidy. */
export async function deleteLabProjects(lab: LabInfo, admin: Session, projects: LabProjects): Promise<void> {
  for (const p of Object.values(projects)) {
    if (p.deployer) await keystone(lab, admin, "DELETE", `/users/${p.deployer.userId}`);
    await keystone(lab, admin, "DELETE", `/projects/${p.id}`);
  }
}

/** The lab's project plan: every environment's project in the lab stack's site(s). */
export function writeLabProjectPlan(dir: string, projects: LabProjects, sites: readonly string[]): string {
  const environments = Object.fromEntries(
    ENVIRONMENTS.map((env) => [
      env,
      Object.fromEntries(
        sites.map((site) => [site, { id: projects[env].id, name: projects[env].name, domain: projects[env].domain }]),
      ),
    ]),
  );
  const file = path.join(dir, "openstack-projects.yaml");
  fs.writeFileSync(file, stringify({ environments }));
  return file;
}

/**
 * The OS_* variables of one project's deployer: the lab's openrc (endpoint,
 * region, interface) with the admin's identity and scope replaced.
 */
export function deployerEnv(openrc: Record<string, string>, project: LabProject): Record<string, string> {
  if (!project.deployer) throw new Error(`${project.name} was created without a deployer`);
  const env = Object.fromEntries(
    Object.entries(openrc).filter(([key]) => !/^OS_(PROJECT_ID|TENANT_ID|TENANT_NAME|USER_ID|CLOUD)$/.test(key)),
  );
  return {
    ...env,
    OS_USERNAME: project.deployer.userName,
    OS_PASSWORD: project.deployer.password,
    OS_PROJECT_NAME: project.name,
    OS_USER_DOMAIN_NAME: project.domain,
    OS_PROJECT_DOMAIN_NAME: project.domain,
  };
}
