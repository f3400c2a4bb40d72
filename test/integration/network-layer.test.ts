/**
 * API tier of the integration tests: the real program's network layer for the
 * `test-lab` stack, applied to the lab's real Neutron, then proven through the
 * API (and once through the `openstack` CLI) rather than through our own data.
 *
 * The resources come from synth of the rendered Pulumi.test-lab.yaml and are
 * replayed by neutron-applier.ts, a reference applier for this test only (see
 * its header). When the engine tier can run, `pulumi up` does the same with
 * the real provider.
 *
 * Needs a running lab: SKE_LAB_DIR=<dir> (test/integration/run.sh sets it).
 * With SKE_LAB_APPLIED_BY=pulumi (the engine tier, after `pulumi up`) the
 * applier only checks, writes nothing, and teardown is left to `pulumi
 * destroy`: the same proofs then hold for what the real provider created.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAddressPlan } from "../../config/load";
import { ENVIRONMENTS } from "../../plan/address-plan";
import { cidrOverlaps } from "../../plan/cidr";
import { SERVICES } from "../../plan/security-rules";
import { synthesize } from "../../synth";
import type { RecordedResource } from "../../synth/mock-runtime";
import { LAB_STACK, writeLabStack } from "./lab-stack";
import { authenticate, Neutron, readLab, type LabInfo, type NeutronObject } from "./lab";
import {
  applyNetworkLayer,
  destroyNetworkLayer,
  networkLayer,
  NETWORK_LAYER_TYPES,
  type ApplyReport,
} from "./neutron-applier";

const APPLIED_BY_PULUMI = process.env.SKE_LAB_APPLIED_BY === "pulumi";
const SEC_GROUP = "openstack:networking/secGroup:SecGroup";
const SEC_GROUP_RULE = "openstack:networking/secGroupRule:SecGroupRule";
/** Collections whose leftovers teardown must account for. */
const INVENTORY = ["networks", "subnets", "ports", "routers", "security-groups", "security-group-rules"] as const;
type Inventory = Record<(typeof INVENTORY)[number], NeutronObject[]>;

interface SiteUnderTest {
  /** The site's planned subnet, where all its nodes live. */
  subnet: string;
}

let lab: LabInfo;
let neutron: Neutron;
let stackFile: string;
let resources: RecordedResource[];
let layer: RecordedResource[];
let site: SiteUnderTest;
let environment: (typeof ENVIRONMENTS)[number];
let baseline: Inventory;
let firstApply: ApplyReport;
let tornDown = false;

/** Everything the lab project owns in Neutron right now. */
async function inventory(): Promise<Inventory> {
  const entries = await Promise.all(
    INVENTORY.map(
      async (collection) => [collection, await neutron.list(collection, { project_id: lab.projectId })] as const,
    ),
  );
  return Object.fromEntries(entries) as Inventory;
}

const ids = (items: readonly NeutronObject[]) => items.map((item) => item.id).sort();

/** Our security groups as Neutron holds them, with their rules. */
async function ourGroups(): Promise<{ group: NeutronObject; rules: NeutronObject[] }[]> {
  const names = new Set(resources.filter((r) => r.type === SEC_GROUP).map((r) => String(r.inputs.name)));
  const groups = (await neutron.list("security-groups", { project_id: lab.projectId })).filter((g) =>
    names.has(String(g.name)),
  );
  return groups.map((group) => ({ group, rules: group.security_group_rules as NeutronObject[] }));
}

/** A rule's identity, from synth inputs or from Neutron, with group ids as names. */
function ruleSignature(r: {
  group: string;
  direction: unknown;
  ethertype: unknown;
  protocol?: unknown;
  min?: unknown;
  max?: unknown;
  prefix?: unknown;
  remoteGroup?: unknown;
}): string {
  return JSON.stringify([
    r.group,
    r.direction,
    r.ethertype,
    r.protocol ?? null,
    r.min ?? null,
    r.max ?? null,
    r.prefix ?? null,
    r.remoteGroup ?? null,
  ]);
}

beforeAll(async () => {
  lab = readLab();
  const session = await authenticate(lab);
  neutron = new Neutron(session, lab.region);

  stackFile = writeLabStack(lab.labDir, lab.externalNetwork.id);
  const synth = await synthesize({ stack: LAB_STACK, configFile: stackFile });
  if (!synth.ok) throw new Error(`synth of ${LAB_STACK} failed:\n${synth.error}`);
  resources = synth.resources;
  layer = networkLayer(resources);
  environment = synth.environment as (typeof ENVIRONMENTS)[number];
  const siteNames = Object.keys(synth.outputs.sites as Record<string, unknown>);
  expect(siteNames).toHaveLength(1);
  const siteName = siteNames[0]!;
  site = {
    subnet: (synth.outputs.sites as Record<string, { subnet: string }>)[siteName]!.subnet,
  };

  // Neutron creates a project's "default" group when its groups are first
  // listed; inventory() lists them, so the baseline already holds it.
  baseline = await inventory();
  const neutronFor = (region: string) => (region === lab.region ? neutron : new Neutron(session, region));
  firstApply = await applyNetworkLayer(neutronFor, resources, { dryRun: APPLIED_BY_PULUMI });
}, 180_000);

afterAll(async () => {
  // A failed test must not leave the lab dirty for the next test file.
  if (!APPLIED_BY_PULUMI && !tornDown && resources && neutron) await destroyNetworkLayer(() => neutron, resources);
});

describe.sequential(`network layer of ${LAB_STACK} on a real Neutron`, () => {
  it("runs with every layer above the network switched off, and the program then registers nothing else", () => {
    const config = parseYaml(fs.readFileSync(stackFile, "utf8")).config;
    // The lab has no Nova (no instances to bootstrap), hence no Kubernetes API,
    // and no GitHub token: these layers are off by config, on purpose.
    expect(config["ske-platform:layers"]).toEqual({
      clusters: false,
      bootstrap: false,
      kubernetes: false,
      github: false,
    });
    const custom = [...new Set(resources.filter((r) => r.custom).map((r) => r.type))];
    expect(
      custom.filter((type) => !NETWORK_LAYER_TYPES.includes(type) && type !== "pulumi:providers:openstack"),
    ).toEqual([]);
    expect(layer.length).toBeGreaterThan(0);
  });

  it(
    APPLIED_BY_PULUMI
      ? "pulumi up created every network-layer resource with exactly the declared inputs"
      : "Neutron accepts every network-layer resource with the exact inputs the program declares",
    () => {
      if (APPLIED_BY_PULUMI) {
        // The applier only looked: everything existed, and held what we declared.
        expect(firstApply.created).toEqual([]);
        expect(firstApply.drift).toEqual([]);
        expect(firstApply.unchanged).toEqual(layer.map((r) => r.name));
      } else {
        expect(firstApply.created).toEqual(layer.map((r) => r.name));
        expect(firstApply.unchanged).toEqual([]);
      }
      for (const r of layer) expect(firstApply.ids[r.name]).toMatch(/^[0-9a-f-]{36}$/);
    },
  );

  it("the router has its gateway on the lab's external network and an interface in the site subnet", async () => {
    const router = layer.find((r) => r.type === "openstack:networking/router:Router")!;
    const subnet = layer.find((r) => r.type === "openstack:networking/subnet:Subnet")!;
    const real = await neutron.request<{ router: NeutronObject }>("GET", `/routers/${firstApply.ids[router.name]}`);
    expect((real.router.external_gateway_info as { network_id: string }).network_id).toBe(lab.externalNetwork.id);
    const ports = await neutron.list("ports", {
      device_id: firstApply.ids[router.name]!,
      device_owner: "network:router_interface",
    });
    expect(ports.map((p) => (p.fixed_ips as { subnet_id: string; ip_address: string }[])[0])).toEqual([
      { subnet_id: firstApply.ids[subnet.name], ip_address: subnet.inputs.gatewayIp },
    ]);
  });

  it("default rules are gone: each group holds exactly the rules of the table, none to any address, none IPv6", async () => {
    const groups = await ourGroups();
    expect(groups.map((g) => g.group.name).sort()).toEqual(
      layer
        .filter((r) => r.type === SEC_GROUP)
        .map((r) => r.inputs.name)
        .sort(),
    );
    const nameOfId = new Map(groups.map((g) => [g.group.id, String(g.group.name)]));
    const groupNameOfResource = new Map(
      layer.filter((r) => r.type === SEC_GROUP).map((r) => [`${r.name}_id`, String(r.inputs.name)]),
    );

    const actual = groups
      .flatMap(({ group, rules }) =>
        rules.map((rule) =>
          ruleSignature({
            group: String(group.name),
            direction: rule.direction,
            ethertype: rule.ethertype,
            protocol: rule.protocol,
            min: rule.port_range_min,
            max: rule.port_range_max,
            prefix: rule.remote_ip_prefix,
            remoteGroup: rule.remote_group_id
              ? (nameOfId.get(String(rule.remote_group_id)) ?? `foreign:${rule.remote_group_id}`)
              : null,
          }),
        ),
      )
      .sort();
    const declared = layer
      .filter((r) => r.type === SEC_GROUP_RULE)
      .map(({ inputs: i }) =>
        ruleSignature({
          group: groupNameOfResource.get(String(i.securityGroupId))!,
          direction: i.direction,
          ethertype: i.ethertype,
          protocol: i.protocol,
          min: i.portRangeMin,
          max: i.portRangeMax,
          prefix: i.remoteIpPrefix,
          remoteGroup: i.remoteGroupId ? groupNameOfResource.get(i.remoteGroupId as string) : null,
        }),
      )
      .sort();
    expect(actual).toEqual(declared);

    const rules = groups.flatMap((g) => g.rules);
    // Neutron's defaults are egress to anywhere: no prefix and no remote group.
    expect(rules.filter((r) => !r.remote_ip_prefix && !r.remote_group_id)).toEqual([]);
    expect(rules.filter((r) => r.ethertype === "IPv6")).toEqual([]);
    expect(rules.filter((r) => r.remote_ip_prefix === "0.0.0.0/0" || r.remote_ip_prefix === "::/0")).toEqual([]);
  });

  it("the groups admit no address of another environment's plan, in either direction", async () => {
    const plan = readAddressPlan();
    const foreign = ENVIRONMENTS.filter((env) => env !== environment).flatMap((env) => [
      plan.environments[env].supernet,
      ...Object.values(plan.environments[env].sites),
    ]);
    expect(foreign.length).toBeGreaterThan(0);
    const groups = await ourGroups();
    const ourIds = new Set(groups.map((g) => g.group.id));
    const rules = groups.flatMap((g) => g.rules);
    const byPrefix = rules.filter((r) => r.remote_ip_prefix);
    expect(byPrefix.length).toBeGreaterThan(0);
    const admitted = byPrefix.flatMap((r) =>
      foreign
        .filter((cidr) => cidrOverlaps(String(r.remote_ip_prefix), cidr))
        .map((cidr) => `${r.direction} ${r.remote_ip_prefix} overlaps ${cidr}`),
    );
    expect(admitted).toEqual([]);
    // Every other rule names a group of this site, never someone else's.
    expect(rules.filter((r) => !r.remote_ip_prefix && !ourIds.has(String(r.remote_group_id)))).toEqual([]);
  });

  it("intra-cluster traffic is admitted by remote group, never by address", async () => {
    const groups = await ourGroups();
    const nameOfId = new Map(groups.map((g) => [g.group.id, String(g.group.name)]));
    const clusterOf = (groupName: string) => /^.*-(ops|mgmt)-(controlplane|worker|loadbalancer)$/.exec(groupName)?.[1];

    // Cluster nodes of this site all live in its subnet: an ingress rule by
    // address that covers it would admit peers by address. (Egress by
    // address is the egress group's job and covers the site on purpose.)
    const bySiteAddress = groups
      .flatMap((g) => g.rules)
      .filter(
        (r) => r.direction === "ingress" && r.remote_ip_prefix && cidrOverlaps(String(r.remote_ip_prefix), site.subnet),
      );
    expect(bySiteAddress).toEqual([]);

    // Ports only cluster members speak to each other on.
    const internal = [SERVICES.etcd, SERVICES.kubelet, SERVICES.vxlan, SERVICES.ciliumHealth, SERVICES.vrrp];
    const isInternal = (r: NeutronObject) =>
      internal.some(
        (s: { protocol: string; ports?: { from: number; to: number } }) =>
          s.protocol === r.protocol &&
          (s.ports === undefined || (s.ports.from === r.port_range_min && s.ports.to === r.port_range_max)),
      );
    const checked = groups.flatMap(({ group, rules }) => {
      const cluster = clusterOf(String(group.name));
      if (!cluster) return [];
      return rules.filter(isInternal).map((rule) => ({
        group: String(group.name),
        cluster,
        prefix: rule.remote_ip_prefix ?? null,
        peerCluster: clusterOf(nameOfId.get(String(rule.remote_group_id)) ?? ""),
      }));
    });
    for (const cluster of ["ops", "mgmt"])
      expect(checked.filter((c) => c.cluster === cluster).length).toBeGreaterThan(0);
    expect(checked.filter((c) => c.prefix !== null || c.peerCluster !== c.cluster)).toEqual([]);
  });

  it("the openstack CLI, an independent client, sees the same rules and no rule to any address", () => {
    const env = {
      PATH: "/usr/bin:/bin",
      OS_AUTH_URL: lab.keystoneUrl,
      OS_IDENTITY_API_VERSION: "3",
      OS_USERNAME: lab.username,
      OS_PASSWORD: lab.password,
      OS_PROJECT_NAME: lab.projectName,
      OS_USER_DOMAIN_ID: lab.domainId,
      OS_PROJECT_DOMAIN_ID: lab.domainId,
      OS_REGION_NAME: lab.region,
      OS_INTERFACE: "public",
      no_proxy: "127.0.0.1,localhost",
    };
    const listed = JSON.parse(
      execFileSync("/usr/bin/openstack", ["security", "group", "rule", "list", "--long", "-f", "json"], {
        env,
        encoding: "utf8",
      }),
    ) as { ID: string; "IP Range": string | null; "Remote Security Group": string | null; "Security Group": string }[];
    const ourIds = new Set(
      Object.entries(firstApply.ids)
        .filter(([name]) => layer.some((r) => r.name === name && r.type === SEC_GROUP))
        .map(([, id]) => id),
    );
    const ours = listed.filter((rule) => ourIds.has(rule["Security Group"]));
    const declaredRules = layer
      .filter((r) => r.type === SEC_GROUP_RULE)
      .map((r) => firstApply.ids[r.name])
      .sort();
    expect(ours.map((rule) => rule.ID).sort()).toEqual(declaredRules);
    // The CLI prints a missing prefix as 0.0.0.0/0 or ::/0; without a remote
    // group as well, such a rule admits any address.
    const toAnyAddress = ours.filter(
      (rule) => (rule["IP Range"] === "0.0.0.0/0" || rule["IP Range"] === "::/0") && !rule["Remote Security Group"],
    );
    expect(toAnyAddress).toEqual([]);
    expect(ours.some((rule) => rule["Remote Security Group"])).toBe(true);
  });

  it("applying again creates nothing and finds every value as declared", async () => {
    const second = await applyNetworkLayer(() => neutron, resources, { dryRun: APPLIED_BY_PULUMI });
    expect(second.created).toEqual([]);
    expect(second.drift).toEqual([]);
    expect(second.unchanged).toEqual(layer.map((r) => r.name));
    expect(second.ids).toEqual(firstApply.ids);
  });

  it.skipIf(APPLIED_BY_PULUMI)(
    "teardown deletes everything it created and leaves the project as it found it",
    async () => {
      const deleted = await destroyNetworkLayer(() => neutron, resources);
      tornDown = true;
      expect([...deleted].sort()).toEqual(layer.map((r) => r.name).sort());

      const after = await inventory();
      const remaining = INVENTORY.filter((c) => c !== "security-group-rules").map(
        (collection) =>
          `${collection}: ${after[collection].map((item) => `${String(item.name || item.device_owner || "-")} (${item.id})`).join(", ") || "none"}`,
      );
      console.log(
        `left in project ${lab.projectName} after teardown (the lab's own network, subnet and default group):\n  ${remaining.join("\n  ")}\n  servers: none (this tier applies the network layer only)`,
      );
      for (const collection of INVENTORY)
        expect({ collection, ids: ids(after[collection]) }).toEqual({ collection, ids: ids(baseline[collection]) });
      const tagged = INVENTORY.flatMap((c) => after[c]).filter((item) =>
        (item.tags as string[] | undefined)?.includes("managed-by:ske-platform"),
      );
      expect(tagged).toEqual([]);
    },
  );
});
