import fc from "fast-check";
import { plannedClusterNames } from "../config/archive-writers";
import { describe, expect, it } from "vitest";
import { ConfigError, loadPlatformConfig, readAddressPlan, validateAddressPlan } from "../config/load";
import { cidrContains, cidrOverlaps, formatAddress, rangeToCidrs } from "../plan/cidr";
import { buildPlatformPlan } from "../plan/platform-plan";
import { DEPLOY_RUNNER_PORT_GROUPS, reachOf } from "../plan/deploy-runners";
import { SERVICES, siteSecurityTable, type SecurityRuleSpec, type SiteRuleInput } from "../plan/security-rules";
import { readStackFile } from "../config/stack-file";
import { committedConfig, stackFilePath } from "./support/stacks";
import { opsSite } from "./support/site-rules";

const otherSite: SiteRuleInput = {
  ...opsSite,
  clusters: ["mgmt"],
  opsInSite: false,
  otherSiteSubnets: ["10.32.0.0/20"],
};

const ingress = (rules: SecurityRuleSpec[]) => rules.filter((r) => r.direction === "ingress");
const admitting = (rules: SecurityRuleSpec[], group: string, port: number, protocol = "tcp") =>
  ingress(rules).filter(
    (r) => r.group === group && r.protocol === protocol && r.ports && r.ports.from <= port && port <= r.ports.to,
  );
const sourceOf = (r: SecurityRuleSpec) => (r.peer.kind === "group" ? `group:${r.peer.group}` : r.peer.cidr);

describe("site rule table", () => {
  const { groups, rules } = siteSecurityTable(opsSite);

  it("defines control-plane, worker and load-balancer groups per cluster, plus jump host and egress", () => {
    expect(groups.map((g) => g.key).sort()).toEqual([
      "egress",
      "jumphost",
      "mgmt-controlplane",
      "mgmt-loadbalancer",
      "mgmt-worker",
      "ops-controlplane",
      "ops-loadbalancer",
      "ops-worker",
    ]);
  });

  it("names intra-cluster peers by remote group, for every Talos, etcd, kubelet and Cilium port", () => {
    const expected: Array<[number, string]> = [
      [50000, "tcp"],
      [50001, "tcp"],
      [6443, "tcp"],
      [2379, "tcp"],
      [2380, "tcp"],
      [10250, "tcp"],
      [8472, "udp"],
      [4240, "tcp"],
    ];
    for (const [port, protocol] of expected) {
      expect(admitting(rules, "ops-controlplane", port, protocol).map(sourceOf)).toContain("group:ops-controlplane");
    }
    expect(
      ingress(rules).some(
        (r) => r.group === "ops-controlplane" && r.protocol === "icmp" && sourceOf(r) === "group:ops-controlplane",
      ),
    ).toBe(true);
    const intra = ingress(rules).filter(
      (r) => /^(ops|mgmt)-(controlplane|worker)$/.test(r.group) && r.peer.kind === "group",
    );
    expect(intra.length).toBeGreaterThan(20);
    expect(
      ingress(rules).filter((r) => /^(ops|mgmt)-(controlplane|worker)$/.test(r.group) && r.peer.kind === "cidr"),
    ).toEqual([]);
  });

  it("never lets one cluster into another's etcd", () => {
    expect(admitting(rules, "mgmt-controlplane", 2379).map(sourceOf)).toEqual(["group:mgmt-controlplane"]);
    expect(admitting(rules, "ops-controlplane", 2379).map(sourceOf)).toEqual(["group:ops-controlplane"]);
  });

  it("serves the Kubernetes API to outsiders only through the load balancers", () => {
    for (const cluster of ["ops", "mgmt"]) {
      expect(admitting(rules, `${cluster}-controlplane`, 6443).map(sourceOf).sort()).toEqual([
        `group:${cluster}-controlplane`,
        `group:${cluster}-loadbalancer`,
        `group:${cluster}-worker`,
      ]);
    }
    expect(admitting(rules, "mgmt-loadbalancer", 6443).map(sourceOf).sort()).toEqual([
      "group:jumphost",
      "group:ops-controlplane",
      "group:ops-worker",
    ]);
    expect(admitting(rules, "ops-loadbalancer", 6443).map(sourceOf)).toEqual(["group:jumphost"]);
  });

  it("lets the ops cluster reach a management cluster in another site by the ops site's planned subnet", () => {
    const remote = siteSecurityTable(otherSite).rules;
    expect(admitting(remote, "mgmt-loadbalancer", 6443).map(sourceOf).sort()).toEqual([
      "10.32.0.0/20",
      "group:jumphost",
    ]);
  });

  it("lets management clusters ship audit logs only to the ops load balancers, which forward to the ops workers", () => {
    const audit = ingress(rules).filter((r) => r.ports?.from === 31100);
    expect(audit.map((r) => `${r.group}<-${sourceOf(r)}`).sort()).toEqual([
      "ops-loadbalancer<-10.32.16.0/20",
      "ops-loadbalancer<-group:mgmt-controlplane",
      "ops-worker<-group:ops-loadbalancer",
    ]);
    expect(ingress(siteSecurityTable(otherSite).rules).filter((r) => r.ports?.from === 31100)).toEqual([]);
  });

  it("serves the Talos API from outside the cluster only to the jump host", () => {
    for (const group of ["ops-controlplane", "ops-worker", "mgmt-controlplane", "mgmt-worker"]) {
      const outsiders = admitting(rules, group, 50000)
        .map(sourceOf)
        .filter((s) => !s.startsWith(`group:${group.split("-")[0]}-`));
      expect(outsiders).toEqual(["group:jumphost"]);
    }
  });

  it("admits SSH to the jump host from admin ranges only", () => {
    expect(admitting(rules, "jumphost", 22).map(sourceOf)).toEqual(["198.51.100.0/27"]);
    expect(ingress(rules).filter((r) => r.group === "jumphost").length).toBe(1);
  });

  it("keeps the VRRP of the HAProxy pair between its members", () => {
    const vrrp = ingress(rules).filter((r) => r.protocol === "vrrp");
    expect(vrrp.map((r) => `${r.group}<-${sourceOf(r)}`).sort()).toEqual([
      "mgmt-loadbalancer<-group:mgmt-loadbalancer",
      "ops-loadbalancer<-group:ops-loadbalancer",
    ]);
  });

  it("opens nothing to 0.0.0.0/0 without a named exception", () => {
    expect(ingress(rules).filter((r) => r.peer.kind === "cidr" && r.peer.cidr === "0.0.0.0/0")).toEqual([]);
  });

  it("turns a named exception into exactly its own rule", () => {
    const table = siteSecurityTable({
      ...opsSite,
      publicExceptions: [
        {
          name: "pentest-ssh",
          reason: "external assessment window",
          group: "jumphost",
          protocol: "tcp",
          port: 2222,
          cidr: "0.0.0.0/0",
        },
      ],
    });
    const open = ingress(table.rules).filter((r) => r.peer.kind === "cidr" && r.peer.cidr === "0.0.0.0/0");
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({
      group: "jumphost",
      protocol: "tcp",
      ports: { from: 2222, to: 2222 },
      peer: { origin: "exception" },
    });
    expect(open[0]!.description).toContain("external assessment window");
  });

  it("egresses everywhere except other environments", () => {
    const egress = rules.filter((r) => r.direction === "egress");
    expect(egress.every((r) => r.group === "egress" && r.protocol === undefined)).toBe(true);
    for (const rule of egress) {
      for (const foreign of opsSite.foreignSupernets)
        expect(cidrOverlaps((rule.peer as { cidr: string }).cidr, foreign)).toBe(false);
    }
    expect(egress.some((r) => cidrContains((r.peer as { cidr: string }).cidr, "10.32.0.0/16"))).toBe(true);
    expect(egress.some((r) => cidrContains((r.peer as { cidr: string }).cidr, "1.1.1.1/32"))).toBe(true);
  });

  it("gives every rule a unique key", () => {
    const keys = rules.map((r) => r.key);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("uses the well-known ports", () => {
    expect(SERVICES.etcd.ports).toEqual({ from: 2379, to: 2380 });
    expect(SERVICES.vxlan).toMatchObject({ protocol: "udp", ports: { from: 8472, to: 8472 } });
  });
});

// --- Isolation property over generated address plans ----------------------

const ENVS = ["production", "staging", "test"] as const;
const SITE_NAMES = ["osl2", "sto2", "hel1", "cph1"];

/** Three disjoint supernets, each split into 1-4 site subnets. */
const addressPlanArb = fc
  .tuple(
    fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 3, maxLength: 3 }),
    fc.integer({ min: 12, max: 20 }),
    // Production must run in osl2 and sto2, the first two names.
    fc.tuple(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
  )
  .map(([slots, prefix, siteCounts]) => {
    // Supernet i is slot i of a /prefix grid inside 10.0.0.0/8, so they never overlap.
    const size = 2 ** (32 - prefix);
    const base = 10 * 2 ** 24;
    const environments = Object.fromEntries(
      ENVS.map((env, i) => {
        const start = base + (slots[i]! % 2 ** (prefix - 8)) * size;
        const siteSize = size / 4;
        const sites = Object.fromEntries(
          SITE_NAMES.slice(0, siteCounts[i]).map((site, j) => [
            site,
            `${formatAddress(start + j * siteSize)}/${prefix + 2}`,
          ]),
        );
        return [env, { supernet: `${formatAddress(start)}/${prefix}`, sites }];
      }),
    );
    return { environments };
  })
  .filter((plan) => new Set(Object.values(plan.environments).map((e) => e.supernet)).size === 3);

const adminCidrArb = fc
  .tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 8, max: 32 }))
  .map(
    ([start, prefix]) =>
      rangeToCidrs({
        start: start - (start % 2 ** (32 - prefix)),
        end: start - (start % 2 ** (32 - prefix)) + 2 ** (32 - prefix) - 1,
      })[0]!,
  )
  .map((c) => `${formatAddress(c.start)}/${c.prefix}`);

describe("isolation property", () => {
  const template = committedConfig("staging");

  it("no rule of one environment admits any address of another, over generated plans", () => {
    let planned = 0;
    fc.assert(
      fc.property(
        addressPlanArb,
        fc.constantFrom(...ENVS),
        fc.array(adminCidrArb, { minLength: 1, maxLength: 3 }),
        fc.nat(),
        (rawPlan, env, adminCidrs, opsPick) => {
          const plan = validateAddressPlan(rawPlan);
          const siteNames = Object.keys(plan.environments[env].sites);
          const site0 = template["ske-platform:sites"].osl2;
          const values: Record<string, string> = {};
          for (const [k, v] of Object.entries(template)) values[k] = typeof v === "string" ? v : JSON.stringify(v);
          values["ske-platform:environment"] = env;
          values["ske-platform:sites"] = JSON.stringify(
            Object.fromEntries(
              siteNames.map((s) => [
                s,
                { ...site0, region: s, subnet: plan.environments[env].sites[s], dnsNameservers: [] },
              ]),
            ),
          );
          values["ske-platform:clusters"] = JSON.stringify({
            ...template["ske-platform:clusters"],
            ops: { ...template["ske-platform:clusters"].ops, site: siteNames[opsPick % siteNames.length] },
          });
          values["ske-platform:access"] = JSON.stringify({ adminCidrs });
          // Exactly one stack owns the repository settings: production, as committed.
          values["ske-platform:github"] = JSON.stringify({
            ...template["ske-platform:github"],
            ownsRepositorySettings: env === "production",
          });
          const clusterNames = plannedClusterNames({
            environment: env,
            sites: Object.fromEntries(siteNames.map((s) => [s, {}])),
            clusters: { ops: { site: siteNames[opsPick % siteNames.length]! } },
          });
          const writerProjects = Object.fromEntries(
            clusterNames.map((c, i) => [c, `0000000000004000a000${String(i).padStart(12, "0")}`]),
          );
          values["ske-platform:audit"] = JSON.stringify({
            ...template["ske-platform:audit"],
            archive: {
              ...template["ske-platform:audit"].archive,
              site: siteNames[0],
              bucket: `ske-${env}-audit`,
              writerProjects,
            },
          });
          // And one etcd backup writer project per planned cluster, distinct from the archive writers.
          values["ske-platform:backups"] = JSON.stringify({
            ...template["ske-platform:backups"],
            writerProjects: Object.fromEntries(
              clusterNames.map((c, i) => [c, `0000000000005000a000${String(i).padStart(12, "0")}`]),
            ),
          });
          const foreign = ENVS.filter((e) => e !== env).map((e) => plan.environments[e].supernet);

          let loaded;
          try {
            loaded = loadPlatformConfig({ stack: env, file: `Pulumi.${env}.yaml`, values }, plan);
          } catch (err) {
            // Refusing the config is the other half of the guarantee: only an admin range
            // reaching into another environment may cause it here.
            expect(err).toBeInstanceOf(ConfigError);
            expect(adminCidrs.some((a) => foreign.some((f) => cidrOverlaps(a, f)))).toBe(true);
            return;
          }
          const platform = buildPlatformPlan(loaded.config, loaded.addressPlan);
          planned += 1;
          for (const site of platform.sites) {
            for (const rule of site.security.rules) {
              if (rule.peer.kind !== "cidr") continue;
              for (const other of foreign) {
                expect(cidrOverlaps(rule.peer.cidr, other), `${env}/${site.name} ${rule.key} admits ${other}`).toBe(
                  false,
                );
              }
            }
          }
        },
      ),
      { numRuns: 200 },
    );
    // Most generated configs must get as far as a plan, or the property proves little.
    expect(planned).toBeGreaterThan(150);
  });

  // Some 450 generated stacks each load their config and plan: room for a loaded machine.
  it("no deploy runner reaches anything of another environment, and in its own only Talos and the VIPs, over generated plans", () => {
    let checked = 0;
    const planFor = (
      plan: ReturnType<typeof validateAddressPlan>,
      env: (typeof ENVS)[number],
      adminCidrs: string[],
      opsPick: number,
    ) => {
      const siteNames = Object.keys(plan.environments[env].sites);
      const values: Record<string, string> = {};
      for (const [k, v] of Object.entries(template)) values[k] = typeof v === "string" ? v : JSON.stringify(v);
      values["ske-platform:environment"] = env;
      values["ske-platform:sites"] = JSON.stringify(
        Object.fromEntries(
          siteNames.map((s) => [
            s,
            { ...template["ske-platform:sites"].osl2, region: s, subnet: plan.environments[env].sites[s] },
          ]),
        ),
      );
      values["ske-platform:clusters"] = JSON.stringify({
        ...template["ske-platform:clusters"],
        ops: { ...template["ske-platform:clusters"].ops, site: siteNames[opsPick % siteNames.length] },
      });
      values["ske-platform:access"] = JSON.stringify({ adminCidrs });
      // Each environment its own archive bucket, and production alone owning the repository settings, as the committed files have it.
      const archive = template["ske-platform:audit"].archive;
      // And one archive writer project per planned cluster, as the committed files have them.
      const clusterNames = plannedClusterNames({
        environment: env,
        sites: Object.fromEntries(siteNames.map((s) => [s, {}])),
        clusters: { ops: { site: siteNames[opsPick % siteNames.length]! } },
      });
      const writerProjects = Object.fromEntries(
        clusterNames.map((c, i) => [
          c,
          `0000000000004000a000${String(ENVS.indexOf(env))}${String(i).padStart(11, "0")}`,
        ]),
      );
      values["ske-platform:audit"] = JSON.stringify({
        ...template["ske-platform:audit"],
        archive: {
          ...archive,
          site: siteNames[0],
          bucket: String(archive.bucket).replace(/staging/g, env),
          writerProjects,
        },
      });
      values["ske-platform:backups"] = JSON.stringify({
        ...template["ske-platform:backups"],
        writerProjects: Object.fromEntries(
          clusterNames.map((c, i) => [
            c,
            `0000000000005000a000${String(ENVS.indexOf(env))}${String(i).padStart(11, "0")}`,
          ]),
        ),
      });
      values["ske-platform:github"] = JSON.stringify({
        ...template["ske-platform:github"],
        ownsRepositorySettings: env === "production",
      });
      values["ske-platform:runners"] = JSON.stringify({
        ...template["ske-platform:runners"],
        count: 1 + (opsPick % 4),
      });
      try {
        const loaded = loadPlatformConfig({ stack: env, file: `Pulumi.${env}.yaml`, values }, plan);
        return buildPlatformPlan(loaded.config, loaded.addressPlan);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return undefined;
      }
    };
    fc.assert(
      fc.property(
        addressPlanArb,
        fc.array(adminCidrArb, { minLength: 1, maxLength: 3 }),
        fc.nat(),
        (rawPlan, adminCidrs, opsPick) => {
          const plan = validateAddressPlan(rawPlan);
          const platforms = ENVS.map((env) => planFor(plan, env, adminCidrs, opsPick));
          platforms.forEach((own, i) => {
            if (!own) return;
            const runner = own.deployRunner!;
            expect(runner.addresses.length).toBe(1 + (opsPick % 4));
            for (const address of runner.addresses) {
              expect(cidrContains(plan.environments[ENVS[i]!].sites[runner.site]!, `${address}/32`)).toBe(true);
              const source = { site: runner.site, address, groups: DEPLOY_RUNNER_PORT_GROUPS };
              // In its own environment: the Talos API and the VIPs, plus whatever an operator's admin range admits.
              for (const r of reachOf(source, own.sites)) {
                if (r.origin === "admin" || r.origin === "exception") continue;
                expect(`${r.group} ${r.protocol}/${r.ports}`, `${ENVS[i]} runner ${address} in ${r.site}`).toMatch(
                  /^((ops|mgmt)-(controlplane|worker) tcp\/50000|(ops|mgmt)-loadbalancer tcp\/6443)$/,
                );
              }
              // In any other environment: nothing at all, admin ranges included (they may not overlap a foreign supernet).
              platforms.forEach((other, j) => {
                if (!other || j === i) return;
                // Remote groups never cross projects; only CIDRs could admit a foreign runner.
                expect(
                  reachOf({ ...source, groups: [] }, other.sites),
                  `${ENVS[i]} runner ${address} reaches ${ENVS[j]}`,
                ).toEqual([]);
              });
              // Its egress (the site's egress group) excludes every other environment.
              const egress = own.sites
                .find((s) => s.name === runner.site)!
                .security.rules.filter((r) => r.direction === "egress" && DEPLOY_RUNNER_PORT_GROUPS.includes(r.group));
              for (const rule of egress) {
                for (const other of own.foreignSupernets)
                  expect(cidrOverlaps((rule.peer as { cidr: string }).cidr, other)).toBe(false);
              }
            }
            checked += 1;
          });
        },
      ),
      { numRuns: 150 },
    );
    // Not vacuous: most generated environments survive the config's refusals
    // (admin ranges overlapping a foreign supernet are refused, so not all).
    expect(checked).toBeGreaterThan(300);
  }, 90_000);

  it("the committed production plan names no CIDR outside its own supernet and admin ranges", () => {
    const loaded = loadPlatformConfig(readStackFile(stackFilePath("production"), "production"), readAddressPlan());
    const platform = buildPlatformPlan(loaded.config, loaded.addressPlan);
    for (const rule of platform.sites.flatMap((s) => s.security.rules)) {
      if (rule.peer.kind !== "cidr" || rule.direction !== "ingress") continue;
      expect(
        platform.allowedSourceCidrs.some((allowed) => cidrContains(allowed, (rule.peer as { cidr: string }).cidr)),
        rule.key,
      ).toBe(true);
    }
  });
});
