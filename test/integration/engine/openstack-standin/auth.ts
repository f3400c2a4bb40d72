/**
 * Credentials of the STAND-IN OpenStack provider (see provider.ts): where the
 * real provider finds them, in the same order. Explicit provider config wins,
 * then a clouds.yaml entry (`cloud`), then OS_* variables of the plugin's
 * environment. Password auth with a project scope only: that is all the lab
 * (and our stacks) use.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import type { Session, TokenScope } from "../../lab";

export interface PasswordAuth {
  authUrl: string;
  userName: string;
  password: string;
  project: { name: string } | { id: string };
  userDomain: { name: string } | { id: string };
  projectDomain: { name: string } | { id: string };
  /** Endpoint interface in the catalog: public, internal or admin. */
  interface: string;
}

/** Provider config keys that carry credentials, as @pulumi/openstack names them. */
export const CREDENTIAL_KEYS = [
  "authUrl", "userName", "password", "tenantName", "tenantId",
  "userDomainName", "userDomainId", "projectDomainName", "projectDomainId", "endpointType",
] as const;
type CredentialKey = (typeof CREDENTIAL_KEYS)[number];

/** clouds.yaml `auth:` fields (snake_case) for each provider credential key. */
const CLOUDS_YAML_FIELD: Record<CredentialKey, string> = {
  authUrl: "auth_url", userName: "username", password: "password",
  tenantName: "project_name", tenantId: "project_id",
  userDomainName: "user_domain_name", userDomainId: "user_domain_id",
  projectDomainName: "project_domain_name", projectDomainId: "project_domain_id",
  endpointType: "interface",
};

/** OS_* variables for each key, first match wins (OS_TENANT_* are the v2 names). */
const ENV_VARS: Record<CredentialKey, readonly string[]> = {
  authUrl: ["OS_AUTH_URL"], userName: ["OS_USERNAME"], password: ["OS_PASSWORD"],
  tenantName: ["OS_PROJECT_NAME", "OS_TENANT_NAME"], tenantId: ["OS_PROJECT_ID", "OS_TENANT_ID"],
  userDomainName: ["OS_USER_DOMAIN_NAME", "OS_DOMAIN_NAME"], userDomainId: ["OS_USER_DOMAIN_ID", "OS_DOMAIN_ID"],
  projectDomainName: ["OS_PROJECT_DOMAIN_NAME", "OS_DOMAIN_NAME"], projectDomainId: ["OS_PROJECT_DOMAIN_ID", "OS_DOMAIN_ID"],
  endpointType: ["OS_INTERFACE", "OS_ENDPOINT_TYPE"],
};

/** The clouds.yaml files openstacksdk reads, in its order. */
function cloudsYamlCandidates(env: NodeJS.ProcessEnv): string[] {
  return [
    ...(env.OS_CLIENT_CONFIG_FILE ? [env.OS_CLIENT_CONFIG_FILE] : []),
    path.resolve("clouds.yaml"),
    path.join(os.homedir(), ".config", "openstack", "clouds.yaml"),
    "/etc/openstack/clouds.yaml",
  ];
}

function cloudEntry(cloud: string, env: NodeJS.ProcessEnv): { auth: Record<string, string>; interface?: string } {
  for (const file of cloudsYamlCandidates(env)) {
    if (!fs.existsSync(file)) continue;
    const entry = (parseYaml(fs.readFileSync(file, "utf8")) as { clouds?: Record<string, unknown> } | null)?.clouds?.[cloud];
    if (entry) return entry as { auth: Record<string, string>; interface?: string };
  }
  throw new Error(`cloud "${cloud}" is in no clouds.yaml (looked in ${cloudsYamlCandidates(env).join(", ")})`);
}

/**
 * Resolves password auth from explicit config, clouds.yaml and OS_*; the
 * error names every missing piece and where it may come from.
 */
export function resolveAuth(config: Partial<Record<CredentialKey | "cloud", string>>, env: NodeJS.ProcessEnv = process.env): PasswordAuth {
  const cloud = config.cloud ?? env.OS_CLOUD;
  const fromCloud = cloud ? cloudEntry(cloud, env) : undefined;
  const value = (key: CredentialKey): string | undefined => {
    if (config[key]) return config[key];
    const cloudValue = key === "endpointType" ? fromCloud?.interface : fromCloud?.auth[CLOUDS_YAML_FIELD[key]];
    if (cloudValue) return cloudValue;
    return ENV_VARS[key].map((name) => env[name]).find((v) => v);
  };
  const either = (nameKey: CredentialKey, idKey: CredentialKey) => {
    const id = value(idKey);
    if (id) return { id };
    const name = value(nameKey);
    return name ? { name } : undefined;
  };
  const missing = (key: CredentialKey) => `${key} (${ENV_VARS[key].join(" or ")}${cloud ? `, or auth.${CLOUDS_YAML_FIELD[key]} of cloud "${cloud}"` : ""})`;

  const authUrl = value("authUrl");
  const userName = value("userName");
  const password = value("password");
  const project = either("tenantName", "tenantId");
  const userDomain = either("userDomainName", "userDomainId");
  const projectDomain = either("projectDomainName", "projectDomainId");
  const problems = [
    ...(authUrl ? [] : [missing("authUrl")]),
    ...(userName ? [] : [missing("userName")]),
    ...(password ? [] : [missing("password")]),
    ...(project ? [] : [missing("tenantName")]),
    ...(userDomain ? [] : [missing("userDomainName")]),
  ];
  if (problems.length > 0 || !authUrl || !userName || !password || !project || !userDomain) {
    throw new Error(`no OpenStack credentials: missing ${problems.join("; ")}`);
  }
  return {
    authUrl: authUrl.replace(/\/$/, ""),
    userName,
    password,
    project,
    userDomain,
    projectDomain: projectDomain ?? userDomain,
    interface: (value("endpointType") ?? "public").replace(/URL$/, ""),
  };
}

interface CatalogEntry {
  type: string;
  endpoints: { interface: string; region_id: string; url: string }[];
}

/** A project-scoped Keystone v3 token, shaped as the lab's Neutron client wants it. */
export async function authenticate(auth: PasswordAuth): Promise<Session> {
  const base = /\/v3$/.test(auth.authUrl) ? auth.authUrl : `${auth.authUrl}/v3`;
  const response = await fetch(`${base}/auth/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      auth: {
        identity: { methods: ["password"], password: { user: { name: auth.userName, domain: auth.userDomain, password: auth.password } } },
        scope: { project: "id" in auth.project ? auth.project : { ...auth.project, domain: auth.projectDomain } },
      },
    }),
  });
  const token = response.headers.get("x-subject-token");
  if (response.status !== 201 || !token) {
    throw new Error(`Keystone at ${base} refused a token: HTTP ${response.status} ${await response.text()}`);
  }
  const body = (await response.json()) as { token: TokenScope & { catalog: CatalogEntry[] } };
  return {
    token,
    projectId: body.token.project.id,
    scope: { project: body.token.project, user: body.token.user, roles: body.token.roles },
    endpoint(serviceType, region) {
      const endpoint = body.token.catalog
        .find((entry) => entry.type === serviceType)
        ?.endpoints.find((e) => e.interface === auth.interface && e.region_id === region);
      if (!endpoint) throw new Error(`the catalog has no ${auth.interface} ${serviceType} endpoint in region ${region}`);
      return endpoint.url.replace(/\/$/, "");
    },
  };
}
