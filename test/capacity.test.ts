import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadPlatformConfig, readAddressPlan } from "../config/load";
import {
  computeNeeds,
  preflightMessage,
  siteProblems,
  type QuotaFact,
  type SiteFacts,
  type SiteRequirements,
} from "../plan/capacity";
import { requirementsOf } from "../synth/capacity";
import type { RecordedResource } from "../synth/mock-runtime";
import { readStackFile } from "../config/stack-file";
import { STACKS, stackFilePath, synthOk, variantFile } from "./support/stacks";

const loadedOf = (stack: string, file = stackFilePath(stack)) =>
  loadPlatformConfig(readStackFile(file, stack), readAddressPlan());

/** What the program registered in one region, counted the way a quota counts it. */
function registeredCounts(resources: readonly RecordedResource[], region: string) {
  const inRegion = (type: string) => resources.filter((r) => r.type === type && r.inputs.region === region);
  const instances = inRegion("openstack:compute/instance:Instance");
  const flavors: Record<string, number> = {};
  for (const i of instances) flavors[String(i.inputs.flavorName)] = (flavors[String(i.inputs.flavorName)] ?? 0) + 1;
  return {
    counts: {
      instances: instances.length,
      ports:
        inRegion("openstack:networking/port:Port").length +
        inRegion("openstack:networking/routerInterface:RouterInterface").length,
      securityGroups: inRegion("openstack:networking/secGroup:SecGroup").length,
      securityGroupRules: inRegion("openstack:networking/secGroupRule:SecGroupRule").length,
      serverGroups: inRegion("openstack:compute/serverGroup:ServerGroup").length,
      floatingIps: inRegion("openstack:networking/floatingIp:FloatingIp").length,
      networks: inRegion("openstack:networking/network:Network").length,
      subnets: inRegion("openstack:networking/subnet:Subnet").length,
      routers: inRegion("openstack:networking/router:Router").length,
    },
    flavors,
    images: new Set(instances.map((i) => String(i.inputs.imageId))),
  };
}

function expectRequirementsMatchProgram(reqs: SiteRequirements[], resources: readonly RecordedResource[]) {
  for (const req of reqs) {
    const registered = registeredCounts(resources, req.region);
    expect(req.counts, `counts of ${req.site}`).toEqual(registered.counts);
    expect(Object.fromEntries(req.flavors.map((f) => [f.flavor, f.instances])), `flavors of ${req.site}`).toEqual(
      registered.flavors,
    );
    expect(new Set(req.images.map((i) => i.imageId)), `images of ${req.site}`).toEqual(registered.images);
  }
}

describe("capacity requirements are what the program registers", () => {
  for (const stack of STACKS) {
    it(`${stack}: per site, instances, ports, groups, rules, server groups, floating IPs and flavors equal the registered resources`, async () => {
      const result = await synthOk(stack);
      const reqs = requirementsOf(loadedOf(stack));
      expect(reqs.map((r) => r.site)).toEqual(result.sites.slice().sort());
      expectRequirementsMatchProgram(reqs, result.resources);
      expect(reqs.some((r) => r.counts.instances > 0)).toBe(true);
    }, 30_000);
  }

  it("for generated node counts, runner counts and floating IPs, too", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          cp: fc.constantFrom(1, 3, 5),
          workers: fc.integer({ min: 1, max: 6 }),
          opsWorkers: fc.integer({ min: 1, max: 4 }),
          runners: fc.integer({ min: 1, max: 4 }),
          jumpHostFip: fc.boolean(),
          lbFip: fc.boolean(),
        }),
        async (g) => {
          const file = variantFile("test", (c) => {
            const site = c["ske-platform:sites"].osl2;
            site.nodes = { controlPlane: g.cp, worker: g.workers };
            site.floatingIps = { jumpHost: g.jumpHostFip, loadBalancers: g.lbFip };
            site.externalNetworkName = "public";
            c["ske-platform:clusters"].ops.nodes.worker = g.opsWorkers;
            c["ske-platform:runners"].count = g.runners;
          });
          const result = await synthOk("test", file);
          expectRequirementsMatchProgram(requirementsOf(loadedOf("test", file)), result.resources);
        },
      ),
      { numRuns: 4 },
    );
  }, 120_000);

  it("with the clusters layer off, a site needs its network and security groups only", () => {
    const reqs = requirementsOf(
      loadedOf(
        "test",
        variantFile("test", (c) => {
          c["ske-platform:layers"] = { clusters: false, bootstrap: false, kubernetes: false, github: false };
          delete c["ske-platform:runners"];
        }),
      ),
    );
    expect(reqs[0]!.counts).toMatchObject({ instances: 0, ports: 1, serverGroups: 0, floatingIps: 0, networks: 1 });
    expect(reqs[0]!.flavors).toEqual([]);
  });
});

// ---------------------------------------------------------------- the verdict

const req: SiteRequirements = {
  site: "sto2",
  region: "sto2",
  counts: {
    instances: 10,
    ports: 12,
    securityGroups: 5,
    securityGroupRules: 50,
    serverGroups: 3,
    floatingIps: 1,
    networks: 1,
    subnets: 1,
    routers: 1,
  },
  flavors: [
    { flavor: "c2.large", instances: 3, keys: ["sites.sto2.flavors.controlPlane"] },
    { flavor: "c4.xlarge", instances: 5, keys: ["sites.sto2.flavors.worker"] },
    { flavor: "c1.small", instances: 2, keys: ["sites.sto2.flavors.loadBalancer", "sites.sto2.flavors.jumpHost"] },
  ],
  images: [
    { imageId: "talos-img", keys: ["sites.sto2.talosImageId"] },
    { imageId: "debian-img", keys: ["sites.sto2.jumpHostImageId"] },
  ],
  serverGroups: [
    { name: "production-sto2-mgmt-controlplane", members: 3, key: "sites.sto2.nodes.controlPlane" },
    { name: "production-sto2-mgmt-worker", members: 5, key: "sites.sto2.nodes.worker" },
    { name: "production-sto2-mgmt-loadbalancer", members: 2 },
  ],
  availabilityZones: ["sto2-a", "sto2-b"],
  externalNetworkId: "ext-net",
};

const roomy = (q: number): QuotaFact => ({ limit: q, used: 0 });
function facts(edit: (f: SiteFacts) => void = () => {}): SiteFacts {
  const f: SiteFacts = {
    flavors: new Map([
      ["c2.large", { vcpus: 2, ramMb: 4096 }],
      ["c4.xlarge", { vcpus: 4, ramMb: 16384 }],
      ["c1.small", { vcpus: 1, ramMb: 1024 }],
    ]),
    activeImageIds: new Set(["talos-img", "debian-img"]),
    availabilityZones: ["sto2-a", "sto2-b", "sto2-c"],
    externalNetwork: { external: true },
    ownPorts: 0,
    quotas: {
      instances: roomy(100),
      cores: roomy(1000),
      ramMb: roomy(1_000_000),
      serverGroups: roomy(10),
      serverGroupMembers: 10,
      ports: roomy(100),
      securityGroups: { limit: 10 },
      securityGroupRules: { limit: 100 },
      floatingIps: { limit: 5 },
      networks: { limit: 10 },
      subnets: { limit: 10 },
      routers: { limit: 10 },
    },
  };
  edit(f);
  return f;
}

describe("the pre-flight verdict of one site", () => {
  it("passes a plan the cloud can take", () => {
    expect(siteProblems(req, facts())).toEqual([]);
  });

  it("computes vCPU and RAM from the flavors' sizes", () => {
    expect(computeNeeds(req, facts().flavors as Map<string, { vcpus: number; ramMb: number }>)).toEqual({
      cores: 3 * 2 + 5 * 4 + 2 * 1,
      ramMb: 3 * 4096 + 5 * 16384 + 2 * 1024,
    });
  });

  it("names the config key behind each missing flavor, image, network and zone", () => {
    const problems = siteProblems(
      { ...req, availabilityZones: ["sto2-a", "sto2-x"] },
      facts((f) => {
        (f.flavors as Map<string, unknown>).set("c4.xlarge", undefined);
        (f.flavors as Map<string, unknown>).delete("c1.small");
        f.activeImageIds = new Set(["debian-img"]);
        f.externalNetwork = undefined;
      }),
    );
    expect(problems).toEqual([
      'sites.sto2.flavors.worker: flavor "c4.xlarge" not found in region sto2',
      'sites.sto2.flavors.loadBalancer: flavor "c1.small" not found in region sto2',
      'sites.sto2.flavors.jumpHost: flavor "c1.small" not found in region sto2',
      "sites.sto2.talosImageId: image talos-img not found or not active in region sto2",
      "sites.sto2.externalNetworkId: network ext-net not found in region sto2",
      'sites.sto2.availabilityZones[1]: availability zone "sto2-x" not found in region sto2 (available: sto2-a, sto2-b, sto2-c)',
    ]);
  });

  it("refuses a network that is not external", () => {
    expect(
      siteProblems(
        req,
        facts((f) => {
          f.externalNetwork = { external: false };
        }),
      ),
    ).toEqual(["sites.sto2.externalNetworkId: network ext-net is not an external network (router:external is false)"]);
  });

  it("compares what is free on a first deployment, and the limit once the site is deployed", () => {
    // 28 cores needed; 48 limit with 30 in use leaves 18.
    const cores = { limit: 48, used: 30 };
    expect(
      siteProblems(
        req,
        facts((f) => {
          f.quotas.cores = cores;
        }),
      ),
    ).toEqual(["project quota: cores 18 free, plan needs 28"]);
    expect(
      siteProblems(
        req,
        facts((f) => {
          f.quotas.cores = cores;
          f.ownPorts = 12;
        }),
      ),
    ).toEqual([]);
    expect(
      siteProblems(
        req,
        facts((f) => {
          f.quotas.cores = { limit: 20, used: 20 };
          f.ownPorts = 12;
        }),
      ),
    ).toEqual([
      "project quota: cores limit 20, plan needs 28 in all (the site is deployed, so its own resources already count)",
    ]);
  });

  it("checks limits where no data source reports usage, and treats -1 as unlimited", () => {
    expect(
      siteProblems(
        req,
        facts((f) => {
          f.quotas.securityGroupRules = { limit: 40 };
          f.quotas.instances = { limit: -1, used: 500 };
        }),
      ),
    ).toEqual([
      "project quota: security-group rules limit 40, plan needs 50 in all (usage is not reported through the provider)",
    ]);
  });

  it("refuses a server group larger than the per-group member quota", () => {
    expect(
      siteProblems(
        req,
        facts((f) => {
          f.quotas.serverGroupMembers = 4;
        }),
      ),
    ).toEqual([
      "sites.sto2.nodes.worker: server group production-sto2-mgmt-worker needs 5 members, project quota allows 4 per group",
    ]);
    expect(
      siteProblems(
        req,
        facts((f) => {
          f.quotas.serverGroupMembers = 1;
        }),
      ).filter((p) => p.includes("loadbalancer")),
    ).toEqual([
      "project quota: server group production-sto2-mgmt-loadbalancer needs 2 members, project quota allows 1 per group",
    ]);
  });

  it("refuses exactly when some need exceeds what is free (property)", () => {
    const quota = fc.record({ limit: fc.integer({ min: -1, max: 200 }), used: fc.integer({ min: 0, max: 200 }) });
    fc.assert(
      fc.property(quota, quota, quota, (instances, ports, serverGroups) => {
        const problems = siteProblems(
          req,
          facts((f) => {
            Object.assign(f.quotas, { instances, ports, serverGroups });
          }),
        );
        const short = (q: QuotaFact, need: number) => q.limit >= 0 && need > Math.max(0, q.limit - q.used!);
        const expected = [short(instances, 10), short(serverGroups, 3), short(ports, 12)].filter(Boolean).length;
        expect(problems).toHaveLength(expected);
        expect(problems.every((p) => p.startsWith("project quota: "))).toBe(true);
      }),
    );
  });
});

describe("the refusal message", () => {
  it("lists every problem once, grouped by site with region and project, and skips sites without problems", () => {
    const message = preflightMessage("production", [
      { site: "osl2", region: "osl2", project: "ske-production-osl2 (p1)", problems: [] },
      {
        site: "sto2",
        region: "sto2",
        project: "ske-production-sto2 (p2)",
        problems: [
          'sites.sto2.flavors.worker: flavor "c4.xlarge" not found in region sto2',
          "project quota: cores 48 free, plan needs 64",
        ],
      },
    ]);
    expect(message).toBe(
      [
        "Refusing to deploy production: pre-flight found 2 problems; the cloud cannot take this plan.",
        "  sto2 (region sto2, project ske-production-sto2 (p2)):",
        '    - sites.sto2.flavors.worker: flavor "c4.xlarge" not found in region sto2',
        "    - project quota: cores 48 free, plan needs 64",
        "Fix the config keys named above or raise the project's quota; no resource was registered.",
      ].join("\n"),
    );
  });
});
