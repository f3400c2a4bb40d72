/**
 * How the integration tests reach the OpenStack lab (openstack-lab/start.sh):
 * what the lab recorded in $SKE_LAB_DIR/lab.json, a Keystone token, and a
 * small Neutron client over plain fetch. Endpoints come from the token's
 * service catalog, per region, as every OpenStack client finds them.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export interface LabInfo {
  labDir: string;
  keystoneUrl: string;
  region: string;
  username: string;
  password: string;
  projectName: string;
  projectId: string;
  domainId: string;
  externalNetwork: { id: string; name: string; cidr: string };
}

/** The lab the runner started; a clear error when the tests run without one. */
export function readLab(dir = process.env.SKE_LAB_DIR): LabInfo {
  if (!dir) {
    throw new Error(
      "SKE_LAB_DIR is not set: start the lab with test/integration/openstack-lab/start.sh (or run npm run test:integration)",
    );
  }
  const file = path.join(dir, "lab.json");
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist: the lab in ${dir} has not finished starting`);
  return JSON.parse(fs.readFileSync(file, "utf8")) as LabInfo;
}

interface CatalogEntry {
  type: string;
  endpoints: { interface: string; region_id: string; url: string }[];
}

export interface Session {
  token: string;
  projectId: string;
  /** Public endpoint of a service type in a region, from the token's catalog. */
  endpoint(serviceType: string, region: string): string;
}

/** A project-scoped password token, as `openstack token issue` gets one. */
export async function authenticate(lab: LabInfo): Promise<Session> {
  const response = await fetch(`${lab.keystoneUrl}/auth/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ["password"],
          password: { user: { name: lab.username, domain: { id: lab.domainId }, password: lab.password } },
        },
        scope: { project: { name: lab.projectName, domain: { id: lab.domainId } } },
      },
    }),
  });
  return sessionOf(response);
}

/** The session a `POST /auth/tokens` answered: its token, project and catalog; a refusal throws with Keystone's answer. */
export async function sessionOf(response: Response): Promise<Session> {
  const token = response.headers.get("x-subject-token");
  if (response.status !== 201 || !token) {
    throw new Error(`Keystone refused a token: HTTP ${response.status} ${await response.text()}`);
  }
  const body = (await response.json()) as { token: { project: { id: string }; catalog: CatalogEntry[] } };
  return {
    token,
    projectId: body.token.project.id,
    endpoint(serviceType, region) {
      const service = body.token.catalog.find((entry) => entry.type === serviceType);
      const endpoint = service?.endpoints.find((e) => e.interface === "public" && e.region_id === region);
      if (!endpoint) throw new Error(`the catalog has no public ${serviceType} endpoint in region ${region}`);
      return endpoint.url.replace(/\/$/, "");
    },
  };
}

export class NeutronError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`Neutron refused ${method} ${url}: HTTP ${status} ${body}`);
    this.name = "NeutronError";
  }
}

/** Neutron's v2.0 API, one JSON request at a time. */
export class Neutron {
  private readonly base: string;

  constructor(
    private readonly session: Session,
    region: string,
  ) {
    this.base = `${session.endpoint("network", region)}/v2.0`;
  }

  async request<T>(method: "GET" | "POST" | "PUT" | "DELETE", resourcePath: string, body?: unknown): Promise<T> {
    const url = `${this.base}${resourcePath}`;
    const response = await fetch(url, {
      method,
      headers: { "X-Auth-Token": this.session.token, "Content-Type": "application/json", Accept: "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new NeutronError(method, url, response.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** GET of a collection, e.g. list("security-groups", { name: "x" }) → its items. */
  async list<T = NeutronObject>(collection: string, filters: Record<string, string> = {}): Promise<T[]> {
    const query = new URLSearchParams(filters).toString();
    const body = await this.request<Record<string, T[]>>("GET", `/${collection}${query ? `?${query}` : ""}`);
    const items = body[collection.replace(/-/g, "_")];
    if (!Array.isArray(items)) throw new Error(`GET /${collection} returned no "${collection}" list`);
    return items;
  }
}

/** A Neutron object as the API returns it: snake_case fields; the ones read across collections are typed. */
export type NeutronObject = Record<string, unknown> & {
  id: string;
  name?: string | null;
  device_owner?: string;
  direction?: "ingress" | "egress";
  remote_ip_prefix?: string | null;
  remote_group_id?: string | null;
};
