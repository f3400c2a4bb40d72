/**
 * STAND-IN FOR THE PULUMI OPENSTACK PROVIDER PLUGIN. TEST USE ONLY.
 *
 * The real plugin (github.com/pulumi/pulumi-openstack/provider/v3 at v3.15.2)
 * cannot be built on this machine: the Go module proxy refuses it, as
 * scripts/toolchain/build.sh records in timings.tsv:
 *
 *   go: github.com/pulumi/pulumi-openstack/provider/v3@v3.15.2: reading
 *   https://proxy.golang.org/github.com/pulumi/pulumi-openstack/provider/v3/@v/v3.15.2.info:
 *   403 Forbidden  server response: This module version is not available.
 *
 * So that the real Pulumi engine can still run our program's network layer
 * against a real Neutron, this plugin speaks the provider protocol for
 * exactly the resource types that layer registers, under the real type tokens
 * and the real plugin version (3.15.2), and does what the real provider
 * would do with the inputs our program sets:
 *
 *   openstack:networking/network:Network               name, adminStateUp, tags
 *   openstack:networking/subnet:Subnet                 networkId, cidr, ipVersion, gatewayIp,
 *                                                      allocationPools, dnsNameservers, name, tags
 *   openstack:networking/router:Router                 name, externalNetworkId, tags
 *   openstack:networking/routerInterface:RouterInterface  routerId, subnetId
 *   openstack:networking/secGroup:SecGroup             name, description, deleteDefaultRules, tags
 *   openstack:networking/secGroupRule:SecGroupRule     every rule field (all immutable)
 *
 * plus `region` on each, and the data source openstack:identity/getAuthScope
 * (from the Keystone token's own scope), and pre-flight's getNetwork, getQuotaV2
 * and getPortIds (from the lab's Neutron, test/integration/preflight-cloud.ts). Check passes inputs through but refuses any input or
 * type it does not implement, by name, so a program change cannot slip past
 * it unexercised. Which inputs force a replacement follows the upstream
 * Terraform schema (ForceNew). It is not the real provider: no retries, no
 * import, no timeouts, no value_specs, no schema (GetSchema answers "{}").
 * Deployments go through the real plugin only.
 */
import type * as pulumi from "@pulumi/pulumi";
import { isDeepStrictEqual } from "node:util";
import { Neutron, NeutronError, type NeutronObject, type Session } from "../../lab";
import { labCloud } from "../../preflight-cloud";

/** The version @pulumi/openstack 3.15.2 asks the engine for. */
export const STAND_IN_VERSION = "3.15.2";

/** The engine's marker for a value not known until apply (preview). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

interface Field {
  /** Neutron field; dotted for nested ones (external_gateway_info.network_id). */
  neutron: string;
  /** Changing it replaces the resource (ForceNew upstream). */
  forceNew: boolean;
}

interface TypeSpec {
  /** Neutron collection; none for router interfaces, which are router actions. */
  collection?: string;
  fields: Record<string, Field>;
  /** Supports `tags` (Neutron's tag extension, set after the create). */
  tags: boolean;
  /** Replacing it first would collide with the old one (same rule, same subnet). */
  deleteBeforeReplace: boolean;
}

const mutable = (neutron: string): Field => ({ neutron, forceNew: false });
const forceNew = (neutron: string): Field => ({ neutron, forceNew: true });

export const TYPES: Record<string, TypeSpec> = {
  "openstack:networking/network:Network": {
    collection: "networks",
    fields: { name: mutable("name"), adminStateUp: mutable("admin_state_up") },
    tags: true,
    deleteBeforeReplace: false,
  },
  "openstack:networking/subnet:Subnet": {
    collection: "subnets",
    fields: {
      name: mutable("name"),
      networkId: forceNew("network_id"),
      cidr: forceNew("cidr"),
      ipVersion: forceNew("ip_version"),
      gatewayIp: mutable("gateway_ip"),
      allocationPools: mutable("allocation_pools"),
      dnsNameservers: mutable("dns_nameservers"),
    },
    tags: true,
    deleteBeforeReplace: false,
  },
  "openstack:networking/router:Router": {
    collection: "routers",
    fields: { name: mutable("name"), externalNetworkId: mutable("external_gateway_info.network_id") },
    tags: true,
    deleteBeforeReplace: false,
  },
  "openstack:networking/routerInterface:RouterInterface": {
    fields: { routerId: forceNew("router_id"), subnetId: forceNew("subnet_id") },
    tags: false,
    deleteBeforeReplace: true,
  },
  "openstack:networking/secGroup:SecGroup": {
    collection: "security-groups",
    fields: { name: mutable("name"), description: mutable("description") },
    tags: true,
    deleteBeforeReplace: false,
  },
  "openstack:networking/secGroupRule:SecGroupRule": {
    collection: "security-group-rules",
    // Neutron has no update for rules: every field is immutable.
    fields: {
      securityGroupId: forceNew("security_group_id"),
      direction: forceNew("direction"),
      ethertype: forceNew("ethertype"),
      description: forceNew("description"),
      protocol: forceNew("protocol"),
      portRangeMin: forceNew("port_range_min"),
      portRangeMax: forceNew("port_range_max"),
      remoteGroupId: forceNew("remote_group_id"),
      remoteIpPrefix: forceNew("remote_ip_prefix"),
    },
    tags: false,
    deleteBeforeReplace: true,
  },
};

const SEC_GROUP = "openstack:networking/secGroup:SecGroup";
const AUTH_SCOPE = "openstack:identity/getAuthScope:getAuthScope";
const PREFLIGHT_NEUTRON = [
  "openstack:networking/getNetwork:getNetwork",
  "openstack:networking/getQuotaV2:getQuotaV2",
  "openstack:networking/getPortIds:getPortIds",
];
const ROUTER_INTERFACE = "openstack:networking/routerInterface:RouterInterface";

/** Every input a type accepts, and whether changing it forces a replacement. */
function inputsOf(type: string, spec: TypeSpec): Record<string, boolean> {
  return {
    region: true,
    ...Object.fromEntries(Object.entries(spec.fields).map(([input, field]) => [input, field.forceNew])),
    ...(spec.tags ? { tags: false } : {}),
    ...(type === SEC_GROUP ? { deleteDefaultRules: true } : {}),
  };
}

/** `urn:pulumi:stack::project::parent$type::name` → type. */
export function typeOfUrn(urn: string): string {
  const qualified = urn.split("::")[2] ?? "";
  return qualified.split("$").pop() ?? "";
}

function specOf(urn: string): { type: string; spec: TypeSpec } {
  const type = typeOfUrn(urn);
  const spec = TYPES[type];
  if (!spec) throw new Error(`${type} is not implemented by the stand-in OpenStack provider (test/integration/engine/openstack-standin)`);
  return { type, spec };
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const [head, ...rest] = dotted.split(".") as [string, ...string[]];
  if (rest.length === 0) {
    target[head] = value;
    return;
  }
  setPath((target[head] ??= {}) as Record<string, unknown>, rest.join("."), value);
}

function getPath(source: Record<string, unknown>, dotted: string): unknown {
  return dotted.split(".").reduce<unknown>((value, key) => (value as Record<string, unknown> | null | undefined)?.[key], source);
}

/** The Neutron request body for the given inputs of a type. */
export function neutronBody(spec: TypeSpec, inputs: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [input, field] of Object.entries(spec.fields)) {
    if (inputs[input] !== undefined) setPath(body, field.neutron, inputs[input]);
  }
  return body;
}

/**
 * Which inputs differ, and which of those replace the resource. Absent and
 * undefined are the same; an unknown (preview) value counts as a change.
 */
export function diffInputs(type: string, olds: Record<string, unknown>, news: Record<string, unknown>): { changed: string[]; replaces: string[] } {
  const spec = TYPES[type];
  if (!spec) throw new Error(`${type} is not implemented by the stand-in OpenStack provider`);
  const changed = Object.entries(inputsOf(type, spec))
    .filter(([input]) => news[input] === UNKNOWN || !isDeepStrictEqual(olds[input] ?? null, news[input] ?? null))
    .map(([input]) => input);
  const forceNewInputs = inputsOf(type, spec);
  return { changed, replaces: changed.filter((input) => forceNewInputs[input]) };
}

/** Inputs a type does not implement: Check refuses them by name. */
export function unsupportedInputs(type: string, inputs: Record<string, unknown>): string[] {
  const spec = TYPES[type];
  if (!spec) return [];
  const known = inputsOf(type, spec);
  // `__defaults` is bookkeeping the engine may echo back from earlier Checks.
  return Object.keys(inputs).filter((input) => !(input in known) && input !== "__defaults");
}

export interface StandInConfig {
  region?: string;
  /** When false, credentials are checked at Configure, as the real provider does. */
  delayedAuth: boolean;
  /** Builds the Keystone session; called once, on the first API call (or at Configure without delayedAuth). */
  connect: () => Promise<Session>;
}

const singular = (collection: string) => collection.replace(/-/g, "_").replace(/s$/, "");
const isNotFound = (err: unknown) => err instanceof NeutronError && err.status === 404;

/** A pulumi.provider.Provider for the types above, configured later by Configure. */
export class StandInOpenStackProvider implements pulumi.provider.Provider {
  readonly version = STAND_IN_VERSION;
  private config: StandInConfig | undefined;
  private session: Promise<Session> | undefined;
  private readonly clients = new Map<string, Neutron>();

  async configure(config: StandInConfig): Promise<void> {
    this.config = config;
    this.session = undefined;
    this.clients.clear();
    if (!config.delayedAuth) await this.sessionFor();
  }

  private sessionFor(): Promise<Session> {
    if (!this.config) throw new Error("the stand-in OpenStack provider was used before Configure");
    // One token per plugin process; a failed attempt is retried on the next call.
    this.session ??= this.config.connect().catch((err: unknown) => {
      this.session = undefined;
      throw err;
    });
    return this.session;
  }

  private async neutron(inputs: Record<string, unknown>): Promise<Neutron> {
    const region = (inputs.region as string | undefined) ?? this.config?.region;
    if (!region) throw new Error("no region: set it on the resource or on the provider (region / OS_REGION_NAME)");
    const session = await this.sessionFor();
    let client = this.clients.get(region);
    if (!client) this.clients.set(region, (client = new Neutron(session, region)));
    return client;
  }

  /**
   * The one data source the program reads: what the provider's credentials
   * are scoped to, from the Keystone token itself, with the fields
   * getAuthScope returns (tokenId only on request, as upstream).
   */
  async invoke(token: string, inputs: Record<string, unknown>): Promise<pulumi.provider.InvokeResult> {
    // Pre-flight's Neutron data sources (stacks/preflight.ts), answered from the lab's API.
    if (PREFLIGHT_NEUTRON.includes(token)) {
      const region = (inputs.region as string | undefined) ?? this.config?.region ?? "";
      const outputs = await labCloud(await this.sessionFor())({ token, inputs: { ...inputs, region }, provider: "" });
      return { outputs: outputs ?? {} };
    }
    if (token !== AUTH_SCOPE) throw new Error(`${token} is not implemented by the stand-in OpenStack provider (test/integration/engine/openstack-standin)`);
    const session = await this.sessionFor();
    const scope = session.scope;
    if (!scope) throw new Error("the Keystone session carries no token scope");
    return {
      outputs: {
        id: String(inputs.name), name: inputs.name, region: inputs.region ?? this.config?.region ?? "",
        projectId: scope.project.id, projectName: scope.project.name,
        projectDomainId: scope.project.domain.id, projectDomainName: scope.project.domain.name,
        userId: scope.user.id, userName: scope.user.name,
        userDomainId: scope.user.domain.id, userDomainName: scope.user.domain.name,
        domainId: "", domainName: "",
        roles: scope.roles.map((r) => ({ roleId: r.id, roleName: r.name })),
        serviceCatalogs: [],
        tokenId: inputs.setTokenId === true ? session.token : "",
      },
    };
  }

  async check(urn: string, _olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.provider.CheckResult> {
    const type = typeOfUrn(urn);
    if (!TYPES[type]) {
      return { inputs: news, failures: [{ property: "", reason: `${type} is not implemented by the stand-in OpenStack provider (test/integration/engine/openstack-standin)` }] };
    }
    const failures = unsupportedInputs(type, news).map((property) => ({
      property,
      reason: `input "${property}" of ${type} is not implemented by the stand-in OpenStack provider; extend test/integration/engine/openstack-standin/provider.ts`,
    }));
    return { inputs: news, failures };
  }

  async diff(_id: string, urn: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.provider.DiffResult> {
    const { type, spec } = specOf(urn);
    const { changed, replaces } = diffInputs(type, olds, news);
    return {
      changes: changed.length > 0,
      replaces,
      deleteBeforeReplace: replaces.length > 0 && spec.deleteBeforeReplace,
    };
  }

  async create(urn: string, inputs: Record<string, unknown>): Promise<pulumi.provider.CreateResult> {
    const { type, spec } = specOf(urn);
    const neutron = await this.neutron(inputs);
    const body = neutronBody(spec, inputs);

    if (type === ROUTER_INTERFACE) {
      const { router_id: routerId, ...rest } = body;
      const added = await neutron.request<{ port_id: string }>("PUT", `/routers/${String(routerId)}/add_router_interface`, rest);
      return { id: added.port_id, outs: { ...inputs, portId: added.port_id } };
    }

    const collection = spec.collection!;
    const created = await neutron.request<Record<string, NeutronObject>>("POST", `/${collection}`, { [singular(collection)]: body });
    const id = created[singular(collection)]!.id;
    try {
      if (spec.tags && Array.isArray(inputs.tags)) {
        await neutron.request("PUT", `/${collection}/${id}/tags`, { tags: inputs.tags });
      }
      if (type === SEC_GROUP && inputs.deleteDefaultRules === true) {
        // Neutron gives every new group egress rules to anywhere (IPv4 and
        // IPv6); the group's own rules come later, as separate resources.
        for (const rule of await neutron.list("security-group-rules", { security_group_id: id })) {
          await neutron.request("DELETE", `/security-group-rules/${rule.id}`);
        }
      }
      return { id, outs: await this.outputs(neutron, spec, id, inputs) };
    } catch (err) {
      // The object exists: tell the engine its id, so state keeps it for a retry or a destroy.
      throw Object.assign(new Error(`created ${singular(collection)} ${id} but could not finish: ${(err as Error).message}`), {
        id,
        properties: inputs,
        reasons: [(err as Error).message],
      });
    }
  }

  async read(id: string, urn: string, props: Record<string, unknown>): Promise<pulumi.provider.ReadResult> {
    const { spec } = specOf(urn);
    const neutron = await this.neutron(props);
    try {
      if (!spec.collection) {
        await neutron.request("GET", `/ports/${id}`);
        return { id, props };
      }
      const current = (await neutron.request<Record<string, NeutronObject>>("GET", `/${spec.collection}/${id}`))[singular(spec.collection)]!;
      const read = { ...props };
      for (const [input, field] of Object.entries(spec.fields)) {
        const value = getPath(current, field.neutron);
        if (value !== undefined && value !== null) read[input] = value;
      }
      if (spec.tags) read.tags = current.tags;
      return { id, props: read };
    } catch (err) {
      if (isNotFound(err)) return { id: "", props: {} };
      throw err;
    }
  }

  async update(id: string, urn: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.provider.UpdateResult> {
    const { type, spec } = specOf(urn);
    const { changed, replaces } = diffInputs(type, olds, news);
    if (replaces.length > 0) throw new Error(`${replaces.join(", ")} of ${type} cannot be updated in place (the engine should have replaced it)`);
    const neutron = await this.neutron(news);
    const collection = spec.collection!;
    const fields = changed.filter((input) => input in spec.fields);
    if (fields.length > 0) {
      const body = neutronBody(spec, Object.fromEntries(fields.map((input) => [input, news[input] ?? null])));
      await neutron.request("PUT", `/${collection}/${id}`, { [singular(collection)]: body });
    }
    if (changed.includes("tags")) {
      await neutron.request("PUT", `/${collection}/${id}/tags`, { tags: news.tags ?? [] });
    }
    return { outs: await this.outputs(neutron, spec, id, news) };
  }

  async delete(id: string, urn: string, props: Record<string, unknown>): Promise<void> {
    const { type, spec } = specOf(urn);
    const neutron = await this.neutron(props);
    try {
      if (type === ROUTER_INTERFACE) {
        await neutron.request("PUT", `/routers/${String(props.routerId)}/remove_router_interface`, { port_id: id });
      } else {
        await neutron.request("DELETE", `/${spec.collection}/${id}`);
      }
    } catch (err) {
      if (!isNotFound(err)) throw err; // already gone is what delete wants
    }
  }

  /** The inputs as given, plus what Neutron computed that the real provider also outputs. */
  private async outputs(neutron: Neutron, spec: TypeSpec, id: string, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
    const collection = spec.collection!;
    const current = (await neutron.request<Record<string, NeutronObject>>("GET", `/${collection}/${id}`))[singular(collection)]!;
    return {
      ...inputs,
      ...(current.project_id ? { tenantId: current.project_id } : {}),
      ...(spec.tags ? { allTags: current.tags ?? [] } : {}),
    };
  }
}
