/**
 * The config → component settings mapping (plan/cluster-settings.ts), pure:
 * what each cluster and jump host of a committed stack, or of a variant an
 * operator might write, is given.
 */
import { describe, expect, it } from "vitest";
import { plannedClusterNames } from "../config/archive-writers";
import { loadPlatformConfig, readAddressPlan } from "../config/load";
import { clusterGroupKeys, clusterSettings, jumpHostSettings, siteTags } from "../plan/cluster-settings";
import { siteClusterAddresses } from "../plan/cluster-addresses";
import { CLUSTER_ID, clusterName } from "../plan/cluster-names";
import { buildPlatformPlan } from "../plan/platform-plan";
import { AUDIT_INGEST_PORT, PLATFORM_INGEST_PORT } from "../plan/security-rules";
import { readStackFile } from "../config/stack-file";
import { stackFilePath, variantFile } from "./support/stacks";

const NS = "ske-platform:";

function settingsOf(stack: string, file = stackFilePath(stack)) {
  const loaded = loadPlatformConfig(readStackFile(file, stack), readAddressPlan());
  const plan = buildPlatformPlan(loaded.config, loaded.addressPlan);
  return plan.sites.flatMap((site) => {
    const addresses = siteClusterAddresses({
      subnet: site.subnet,
      clusters: site.clusters.map((c) => c.id),
      reservedHead: 16,
      taken: site.config.dnsNameservers,
    });
    return site.clusters.map((cluster) => ({
      site,
      cluster,
      settings: clusterSettings(loaded.config, site, cluster, addresses),
      jumpHost: jumpHostSettings(site),
      addresses,
    }));
  });
}

describe("cluster settings from config", () => {
  it("gives each cluster its site's region, zones, images and flavors, its own name and address block", () => {
    for (const { site, cluster, settings, addresses } of settingsOf("production")) {
      expect(settings).toMatchObject({
        name: cluster.name,
        role: cluster.role,
        clusterId: cluster.id,
        region: site.config.region,
        subnetCidr: site.subnet,
        availabilityZones: site.config.availabilityZones,
        nodes: cluster.nodes,
        flavors: site.config.flavors,
        talosImageId: site.config.talosImageId,
        loadBalancerImageId: site.config.jumpHostImageId,
        addresses: addresses[cluster.id],
      });
    }
  });

  it("forwards the audit and platform ingest ports to the ops cluster's workers only", () => {
    const all = settingsOf("staging");
    const ops = all.filter((s) => s.cluster.role === "ops");
    expect(ops).toHaveLength(1);
    expect(ops[0]!.settings.workerPassthrough?.map((p) => p.port)).toEqual([AUDIT_INGEST_PORT, PLATFORM_INGEST_PORT]);
    for (const other of all.filter((s) => s.cluster.role !== "ops"))
      expect(other.settings).not.toHaveProperty("workerPassthrough");
  });

  it("protects stateful resources where config says so: production yes, test no", () => {
    expect(settingsOf("production").every((s) => s.settings.protect)).toBe(true);
    expect(settingsOf("test").some((s) => s.settings.protect)).toBe(false);
  });

  it("prefixes OIDC user names like groups, so no token names a system: user", () => {
    for (const { settings } of settingsOf("test")) {
      expect(settings.oidc.usernamePrefix).toBe(settings.oidc.groupsPrefix);
      expect(settings.oidc.usernamePrefix).not.toBe("");
    }
  });

  it("asks for a floating IP and a key pair only where the site's config does", () => {
    for (const { settings, jumpHost } of settingsOf("test")) {
      expect(settings).not.toHaveProperty("floatingIpPool");
      expect(settings).not.toHaveProperty("keyPair");
      expect(jumpHost).not.toHaveProperty("floatingIpPool");
    }
    const file = variantFile("test", (config) => {
      const site = config[`${NS}sites`].osl2;
      site.externalNetworkName = "public";
      site.floatingIps = { jumpHost: true, loadBalancers: false };
      site.keyPair = "ops-key";
    });
    for (const { settings, jumpHost } of settingsOf("test", file)) {
      expect(settings).not.toHaveProperty("floatingIpPool");
      expect(settings.keyPair).toBe("ops-key");
      expect(jumpHost).toMatchObject({ floatingIpPool: "public", keyPair: "ops-key" });
    }
  });

  it("takes the roll-out batch size from config, one worker at a time by default", () => {
    expect(settingsOf("test").map((s) => s.settings.workerBatchSize)).toEqual([1, 1]);
    const file = variantFile("test", (config) => {
      config[`${NS}rollout`].workerBatchSize = 2;
      config[`${NS}sites`].osl2.nodes.worker = 4;
      config[`${NS}clusters`].ops.nodes.worker = 3;
    });
    expect(settingsOf("test", file).map((s) => s.settings.workerBatchSize)).toEqual([2, 2]);
  });

  it("puts each node role's ports in its own cluster's group plus egress, and the jump host in its own", () => {
    const groups = settingsOf("test").map(({ cluster }) => [cluster.id, clusterGroupKeys(cluster)]);
    expect(Object.fromEntries(groups)).toEqual({
      ops: {
        controlPlane: ["ops-controlplane", "egress"],
        worker: ["ops-worker", "egress"],
        loadBalancer: ["ops-loadbalancer", "egress"],
      },
      mgmt: {
        controlPlane: ["mgmt-controlplane", "egress"],
        worker: ["mgmt-worker", "egress"],
        loadBalancer: ["mgmt-loadbalancer", "egress"],
      },
    });
    expect(settingsOf("test")[0]!.jumpHost.groupKeys).toEqual(["jumphost", "egress"]);
  });

  it("tags every resource of a site with its environment and site", () => {
    expect(siteTags("staging", "osl2")).toEqual(["environment:staging", "site:osl2", "managed-by:ske-platform"]);
  });
});

describe("cluster names", () => {
  it("the archive writers' check expects exactly the clusters the plan names", () => {
    for (const stack of ["production", "staging", "test"]) {
      const loaded = loadPlatformConfig(readStackFile(stackFilePath(stack), stack), readAddressPlan());
      const planned = buildPlatformPlan(loaded.config, loaded.addressPlan).clusters.map((c) => c.name);
      expect(plannedClusterNames(loaded.config).sort()).toEqual([...planned].sort());
    }
  });

  it("a role's id is the short form in its cluster's name", () => {
    expect(clusterName("production", "osl2", "management")).toBe(`production-osl2-${CLUSTER_ID.management}`);
    expect(CLUSTER_ID).toEqual({ ops: "ops", management: "mgmt" });
  });
});
