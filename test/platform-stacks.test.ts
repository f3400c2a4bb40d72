import { describe, expect, it } from "vitest";
import { readAddressPlan } from "../config/load";
import { cidrContains, cidrOverlaps } from "../plan/cidr";
import { foreignSupernets } from "../plan/address-plan";
import { STACKS, committedConfig, ofType, synthOk, synthStack, variantFile } from "./support/stacks";

const SG = "openstack:networking/secGroup:SecGroup";
const RULE = "openstack:networking/secGroupRule:SecGroupRule";
const plan = readAddressPlan();

describe.each(STACKS)("the %s stack under mocks", (stack) => {
  const config = committedConfig(stack);
  const sites = Object.keys(config["ske-platform:sites"]).sort();
  const opsSite = config["ske-platform:clusters"].ops.site as string;
  const adminCidrs = config["ske-platform:access"].adminCidrs as string[];
  const own = plan.environments[stack].supernet;
  const foreign = foreignSupernets(plan, stack);

  it("builds one network, subnet and router per site, each through that site's provider", async () => {
    const run = await synthOk(stack);
    expect(run.sites.sort()).toEqual(sites);
    for (const site of sites) {
      const prefix = `${stack}-${site}`;
      const providers = ofType(run.resources, "pulumi:providers:openstack").filter(
        (p) => p.name === `${prefix}-openstack`,
      );
      expect(providers).toHaveLength(1);
      expect(providers[0]!.inputs).toMatchObject({
        region: config["ske-platform:sites"][site].region,
        delayedAuth: "true",
      });
      for (const type of ["network:Network", "subnet:Subnet", "router:Router", "routerInterface:RouterInterface"]) {
        const token = `openstack:networking/${type}`;
        const inSite = ofType(run.resources, token).filter((r) => r.name.startsWith(`${prefix}-`));
        expect(inSite, `${token} in ${site}`).toHaveLength(1);
      }
      const siteResources = run.resources.filter(
        (r) => r.custom && r.type.startsWith("openstack:") && r.name.startsWith(`${prefix}-`),
      );
      for (const r of siteResources) expect(r.provider, r.name).toMatch(new RegExp(`::${prefix}-openstack::`));
    }
  });

  it("plans the subnet of the address plan, with the router on the first address", async () => {
    const run = await synthOk(stack);
    for (const site of sites) {
      const subnet = ofType(run.resources, "openstack:networking/subnet:Subnet").find(
        (r) => r.name === `${stack}-${site}-subnet`,
      )!;
      expect(subnet.inputs.cidr).toBe(plan.environments[stack].sites[site]);
      expect(cidrContains(own, subnet.inputs.cidr as string)).toBe(true);
    }
  });

  it("gives each site the groups of its clusters, all starting empty", async () => {
    const run = await synthOk(stack);
    const groups = ofType(run.resources, SG);
    for (const site of sites) {
      const inSite = groups
        .filter((g) => g.name.startsWith(`${stack}-${site}-`))
        .map((g) => g.name.replace(`${stack}-${site}-`, ""))
        .sort();
      const clusters = site === opsSite ? ["mgmt", "ops"] : ["mgmt"];
      // The deploy runners live beside the jump host of the ops site only.
      const runner = site === opsSite ? ["deploy-runner"] : [];
      expect(inSite).toEqual(
        [
          "egress",
          "jumphost",
          ...runner,
          ...clusters.flatMap((c) => [`${c}-controlplane`, `${c}-loadbalancer`, `${c}-worker`]),
        ].sort(),
      );
    }
    expect(groups.every((g) => g.inputs.deleteDefaultRules === true)).toBe(true);
  });

  it("names in every rule only its own groups, its own address space or its admin ranges", async () => {
    const run = await synthOk(stack);
    const groupIds = new Map(ofType(run.resources, SG).map((g) => [`${g.name}_id`, g.name]));
    const rules = ofType(run.resources, RULE);
    expect(rules.length).toBeGreaterThan(40);
    for (const rule of rules) {
      const owner = groupIds.get(rule.inputs.securityGroupId as string);
      expect(owner, rule.name).toBeDefined();
      if (rule.inputs.remoteGroupId !== undefined) {
        const peer = groupIds.get(rule.inputs.remoteGroupId as string)!;
        // Remote groups never cross sites (regions) or environments.
        expect(peer.split("-").slice(0, 2)).toEqual(owner!.split("-").slice(0, 2));
        continue;
      }
      const cidr = rule.inputs.remoteIpPrefix as string;
      expect(cidr, `${rule.name} names no source`).toBeDefined();
      for (const other of foreign) expect(cidrOverlaps(cidr, other), `${rule.name} reaches ${other}`).toBe(false);
      if (rule.inputs.direction === "ingress") {
        expect(
          [own, ...adminCidrs].some((allowed) => cidrContains(allowed, cidr)),
          `${rule.name}: ${cidr}`,
        ).toBe(true);
      }
    }
  });

  it("forwards the audit ingest on the ops load balancers only", async () => {
    const run = await synthOk(stack);
    const lbs = ofType(run.resources, "openstack:compute/instance:Instance").filter((r) => /-lb-\d$/.test(r.name));
    expect(lbs.length).toBeGreaterThan(0);
    for (const lb of lbs) {
      expect(lb.inputs.userData, lb.name).toEqual(expect.any(String));
      expect((lb.inputs.userData as string).includes("frontend audit-ingest"), lb.name).toBe(lb.name.includes("-ops-"));
    }
  });

  it("opens nothing to the internet", async () => {
    const run = await synthOk(stack);
    const open = ofType(run.resources, RULE).filter(
      (r) => r.inputs.direction === "ingress" && r.inputs.remoteIpPrefix === "0.0.0.0/0",
    );
    expect(open).toEqual([]);
  });
});

describe("whole-program refusals", () => {
  it("registers no resource when the configuration is invalid, and names every problem", async () => {
    const file = variantFile("production", (c) => {
      c["ske-platform:sites"].sto2.nodes.controlPlane = 4;
      c["ske-platform:access"].adminCidrs = ["10.34.0.0/24"];
    });
    const result = await synthStack("production", file);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toContain("Pulumi.production.yaml: ske-platform:sites.sto2.nodes.controlPlane");
    const registered = (result.registered ?? []).filter((r) => r.type !== "pulumi:pulumi:Stack");
    expect(registered).toEqual([]);
  });

  it("refuses a production rule that would admit staging, through the admin ranges", async () => {
    const file = variantFile("production", (c) => {
      c["ske-platform:access"].adminCidrs.push("10.33.0.0/16");
    });
    const result = await synthStack("production", file);
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.error).toMatch(/adminCidrs\[1\]: 10\.33\.0\.0\/16 overlaps another environment's supernet/);
  });

  it("opens a named exception and nothing more", async () => {
    const file = variantFile("test", (c) => {
      c["ske-platform:access"].publicExceptions = [
        {
          name: "assessment-ssh",
          reason: "external security assessment, ticket SEC-142",
          group: "jumphost",
          protocol: "tcp",
          port: 22,
          cidr: "203.0.113.0/24",
        },
      ];
    });
    const run = await synthOk("test", file);
    const open = ofType(run.resources, RULE).filter((r) => r.inputs.remoteIpPrefix === "203.0.113.0/24");
    expect(open).toHaveLength(1);
    expect(open[0]!.inputs).toMatchObject({
      direction: "ingress",
      protocol: "tcp",
      portRangeMin: 22,
      portRangeMax: 22,
    });
    expect(open[0]!.inputs.description).toContain("SEC-142");
  });
});
