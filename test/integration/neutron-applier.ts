/**
 * REFERENCE APPLIER FOR THE INTEGRATION TEST, NOT A DEPLOYMENT TOOL.
 *
 * It replays the network layer the real program registered (synth's
 * resources.json) against a real Neutron, translating each resource's inputs
 * one to one into Neutron API fields. Its only purpose is to check that
 * Neutron accepts our exact property shapes (protocol names such as vrrp,
 * port ranges, remote groups, egress CIDRs, allocation pools) while the
 * Pulumi OpenStack provider plugin cannot be built on this machine. It does
 * not replace the provider: no state, no diffing beyond "exists and equals",
 * no updates, no retries. Deployments go through `pulumi up` only.
 *
 * It refuses any input it has no translation for, so a new input in the
 * program makes the test fail loudly instead of going unchecked.
 */
import type { RecordedResource } from "../../synth/mock-runtime";
import { Neutron, type NeutronObject } from "./lab";

type Kind = "network" | "subnet" | "router" | "routerInterface" | "secGroup" | "secGroupRule";

interface Translation {
  type: string;
  /** Neutron collection; none for router interfaces, which are router actions. */
  collection?: string;
  /** Input → Neutron field; a dotted field is nested (external_gateway_info.network_id). */
  fields: Record<string, string>;
  /** Inputs holding the id of another resource of the program (a mock id `<name>_id` in synth). */
  references: readonly string[];
  /** Inputs applied outside the request body. */
  tags: boolean;
  deleteDefaultRules: boolean;
}

const TRANSLATIONS: Record<Kind, Translation> = {
  network: {
    type: "openstack:networking/network:Network",
    collection: "networks",
    fields: { name: "name", adminStateUp: "admin_state_up" },
    references: [],
    tags: true,
    deleteDefaultRules: false,
  },
  subnet: {
    type: "openstack:networking/subnet:Subnet",
    collection: "subnets",
    fields: {
      name: "name",
      networkId: "network_id",
      cidr: "cidr",
      ipVersion: "ip_version",
      gatewayIp: "gateway_ip",
      allocationPools: "allocation_pools",
      dnsNameservers: "dns_nameservers",
    },
    references: ["networkId"],
    tags: true,
    deleteDefaultRules: false,
  },
  router: {
    type: "openstack:networking/router:Router",
    collection: "routers",
    fields: { name: "name", externalNetworkId: "external_gateway_info.network_id" },
    references: [],
    tags: true,
    deleteDefaultRules: false,
  },
  routerInterface: {
    type: "openstack:networking/routerInterface:RouterInterface",
    fields: { routerId: "router_id", subnetId: "subnet_id" },
    references: ["routerId", "subnetId"],
    tags: false,
    deleteDefaultRules: false,
  },
  secGroup: {
    type: "openstack:networking/secGroup:SecGroup",
    collection: "security-groups",
    fields: { name: "name", description: "description" },
    references: [],
    tags: true,
    deleteDefaultRules: true,
  },
  secGroupRule: {
    type: "openstack:networking/secGroupRule:SecGroupRule",
    collection: "security-group-rules",
    fields: {
      securityGroupId: "security_group_id",
      direction: "direction",
      ethertype: "ethertype",
      description: "description",
      protocol: "protocol",
      portRangeMin: "port_range_min",
      portRangeMax: "port_range_max",
      remoteGroupId: "remote_group_id",
      remoteIpPrefix: "remote_ip_prefix",
    },
    references: ["securityGroupId", "remoteGroupId"],
    tags: false,
    deleteDefaultRules: false,
  },
};

/** Dependency order of Neutron: a resource only references kinds before it. */
const APPLY_ORDER: readonly Kind[] = ["network", "subnet", "router", "routerInterface", "secGroup", "secGroupRule"];

export const NETWORK_LAYER_TYPES: readonly string[] = APPLY_ORDER.map((kind) => TRANSLATIONS[kind].type);

/** Fields that identify a rule: Neutron refuses a second rule equal in all of them. */
const RULE_IDENTITY = [
  "security_group_id",
  "direction",
  "ethertype",
  "protocol",
  "port_range_min",
  "port_range_max",
  "remote_ip_prefix",
  "remote_group_id",
] as const;

export interface DesiredResource {
  kind: Kind;
  /** Pulumi resource name, e.g. `test-osl2-ops-worker`. */
  name: string;
  region: string;
  body: Record<string, unknown>;
  tags?: string[];
  deleteDefaultRules: boolean;
}

export interface Drift {
  resource: string;
  field: string;
  want: unknown;
  got: unknown;
}

export interface ApplyReport {
  /** Created, or in a dry run: would be created. */
  created: string[];
  unchanged: string[];
  /** Fields that exist in Neutron with another value than the program asked for. */
  drift: Drift[];
  /** Pulumi resource name → Neutron id. */
  ids: Record<string, string>;
}

/** The network-layer resources of a synth run, in apply order. */
export function networkLayer(resources: readonly RecordedResource[]): RecordedResource[] {
  return APPLY_ORDER.flatMap((kind) => resources.filter((r) => r.type === TRANSLATIONS[kind].type));
}

function kindOf(type: string): Kind {
  const kind = APPLY_ORDER.find((k) => TRANSLATIONS[k].type === type);
  if (!kind) throw new Error(`the reference applier has no translation for ${type}`);
  return kind;
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const [head, ...rest] = dotted.split(".") as [string, ...string[]];
  if (rest.length === 0) {
    target[head] = value;
    return;
  }
  const inner = (target[head] ??= {}) as Record<string, unknown>;
  setPath(inner, rest.join("."), value);
}

/** `<name>_id`, the id the mock runtime gives a resource, back to `<name>`. */
function referencedName(value: unknown, input: string, owner: string): string {
  if (typeof value !== "string" || !value.endsWith("_id")) {
    throw new Error(
      `${owner}: ${input} should reference another resource of the program, got ${JSON.stringify(value)}`,
    );
  }
  return value.slice(0, -"_id".length);
}

/**
 * Translates one recorded resource into the Neutron request it stands for.
 * `resolve` maps a referenced resource name to its real Neutron id.
 */
export function translate(resource: RecordedResource, resolve: (name: string) => string): DesiredResource {
  const kind = kindOf(resource.type);
  const t = TRANSLATIONS[kind];
  const body: Record<string, unknown> = {};
  let region: string | undefined;
  let tags: string[] | undefined;
  let deleteDefaultRules = false;
  for (const [input, value] of Object.entries(resource.inputs)) {
    if (input === "region") region = String(value);
    else if (input === "tags" && t.tags) tags = [...(value as string[])];
    else if (input === "deleteDefaultRules" && t.deleteDefaultRules) deleteDefaultRules = value === true;
    else if (input in t.fields) {
      const resolved = t.references.includes(input) ? resolve(referencedName(value, input, resource.name)) : value;
      setPath(body, t.fields[input]!, resolved);
    } else {
      throw new Error(
        `${resource.name}: input "${input}" of ${resource.type} has no Neutron translation; extend test/integration/neutron-applier.ts`,
      );
    }
  }
  if (!region) throw new Error(`${resource.name}: no region input; the program sets one on every OpenStack resource`);
  return { kind, name: resource.name, region, body, ...(tags ? { tags } : {}), deleteDefaultRules };
}

/** Values the program asked for that Neutron holds differently (subset compare: Neutron adds fields). */
export function differences(want: unknown, got: unknown, field = ""): { field: string; want: unknown; got: unknown }[] {
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) return [{ field, want, got }];
    return want.flatMap((item, i) => differences(item, got[i], `${field}[${i}]`));
  }
  if (typeof want === "object" && want !== null) {
    if (typeof got !== "object" || got === null) return [{ field, want, got }];
    return Object.entries(want).flatMap(([key, value]) =>
      differences(value, (got as Record<string, unknown>)[key], field ? `${field}.${key}` : key),
    );
  }
  return want === got ? [] : [{ field, want, got }];
}

function sameTags(want: readonly string[], got: unknown): boolean {
  const have = Array.isArray(got) ? [...(got as unknown[])].sort() : [];
  return JSON.stringify([...want].sort()) === JSON.stringify(have);
}

/** The Neutron object a desired resource corresponds to, if it exists. */
async function findExisting(neutron: Neutron, desired: DesiredResource): Promise<NeutronObject | undefined> {
  const { body } = desired;
  switch (desired.kind) {
    case "network":
    case "router":
    case "secGroup": {
      const found = await neutron.list(TRANSLATIONS[desired.kind].collection!, { name: String(body.name) });
      if (found.length > 1) throw new Error(`${desired.name}: ${found.length} objects are named ${String(body.name)}`);
      return found[0];
    }
    case "subnet":
      return (await neutron.list("subnets", { name: String(body.name), network_id: String(body.network_id) }))[0];
    case "routerInterface": {
      const ports = await neutron.list("ports", {
        device_id: String(body.router_id),
        device_owner: "network:router_interface",
      });
      return ports.find((port) =>
        (port.fixed_ips as { subnet_id: string }[]).some((ip) => ip.subnet_id === body.subnet_id),
      );
    }
    case "secGroupRule": {
      const rules = await neutron.list("security-group-rules", { security_group_id: String(body.security_group_id) });
      return rules.find((rule) => RULE_IDENTITY.every((field) => (rule[field] ?? null) === (body[field] ?? null)));
    }
  }
}

async function create(neutron: Neutron, desired: DesiredResource): Promise<string> {
  const t = TRANSLATIONS[desired.kind];
  if (desired.kind === "routerInterface") {
    const { router_id: routerId, ...rest } = desired.body;
    const added = await neutron.request<{ port_id: string }>(
      "PUT",
      `/routers/${String(routerId)}/add_router_interface`,
      rest,
    );
    return added.port_id;
  }
  const singular = t.collection!.replace(/-/g, "_").replace(/s$/, "");
  const created = await neutron.request<Record<string, NeutronObject>>("POST", `/${t.collection}`, {
    [singular]: desired.body,
  });
  const id = created[singular]!.id;
  if (desired.tags) {
    // The provider also sets tags with a second call after the create.
    await neutron.request("PUT", `/${t.collection}/${id}/tags`, { tags: desired.tags });
  }
  if (desired.deleteDefaultRules) {
    // What deleteDefaultRules means: Neutron gives every new group two egress
    // rules (IPv4 and IPv6 to anywhere); remove them before any rule of ours.
    for (const rule of await neutron.list("security-group-rules", { security_group_id: id })) {
      await neutron.request("DELETE", `/security-group-rules/${rule.id}`);
    }
  }
  return id;
}

/**
 * Creates what does not exist yet, in dependency order, and reports what
 * already existed and whether it matches the program's inputs. A dry run
 * writes nothing: it checks what someone else (`pulumi up`) created.
 */
export async function applyNetworkLayer(
  neutronFor: (region: string) => Neutron,
  resources: readonly RecordedResource[],
  options: { dryRun?: boolean } = {},
): Promise<ApplyReport> {
  const report: ApplyReport = { created: [], unchanged: [], drift: [], ids: {} };
  const resolve = (name: string) => {
    const id = report.ids[name];
    if (!id) throw new Error(`${name} is referenced before it exists (apply order)`);
    return id;
  };
  for (const resource of networkLayer(resources)) {
    const desired = translate(resource, resolve);
    const neutron = neutronFor(desired.region);
    const existing = await findExisting(neutron, desired);
    if (!existing) {
      // In a dry run, dependents of a missing resource find nothing either.
      report.ids[resource.name] = options.dryRun ? `(not created: ${resource.name})` : await create(neutron, desired);
      report.created.push(resource.name);
      continue;
    }
    report.ids[resource.name] = existing.id;
    report.unchanged.push(resource.name);
    const compared = desired.kind === "routerInterface" ? {} : desired.body;
    for (const d of differences(compared, existing)) report.drift.push({ resource: resource.name, ...d });
    if (desired.tags && !sameTags(desired.tags, existing.tags)) {
      report.drift.push({ resource: resource.name, field: "tags", want: desired.tags, got: existing.tags });
    }
  }
  return report;
}

/**
 * Deletes every network-layer resource of the program that exists, in
 * reverse dependency order. Returns the names it deleted.
 */
export async function destroyNetworkLayer(
  neutronFor: (region: string) => Neutron,
  resources: readonly RecordedResource[],
): Promise<string[]> {
  const layer = networkLayer(resources);
  // Resolve references from what exists now (a partial apply is fine).
  const ids: Record<string, string> = {};
  const existing: { resource: RecordedResource; desired: DesiredResource; id: string }[] = [];
  for (const resource of layer) {
    let desired: DesiredResource;
    try {
      desired = translate(resource, (name) => {
        const id = ids[name];
        if (!id) throw new MissingReference(name);
        return id;
      });
    } catch (err) {
      if (err instanceof MissingReference) continue; // what it hangs off was never created
      throw err;
    }
    const found = await findExisting(neutronFor(desired.region), desired);
    if (!found) continue;
    ids[resource.name] = found.id;
    existing.push({ resource, desired, id: found.id });
  }
  const deleted: string[] = [];
  for (const { resource, desired, id } of existing.reverse()) {
    const neutron = neutronFor(desired.region);
    if (desired.kind === "routerInterface") {
      await neutron.request("PUT", `/routers/${String(desired.body.router_id)}/remove_router_interface`, {
        subnet_id: desired.body.subnet_id,
      });
    } else {
      await neutron.request("DELETE", `/${TRANSLATIONS[desired.kind].collection}/${id}`);
    }
    deleted.push(resource.name);
  }
  return deleted;
}

class MissingReference extends Error {}
