import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cidrContains, formatAddress, parseAddress, parseCidr } from "../plan/cidr";
import { siteClusterAddresses } from "../plan/cluster-addresses";
import { RESERVED_HEAD_ADDRESSES } from "../components/site-network";

// Subnets large enough for a site (a /28 is exactly the reserved head).
const subnet = fc
  .tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 16, max: 28 }))
  .map(([start, prefix]) => {
    const size = 2 ** (32 - prefix);
    return `${formatAddress(start - (start % size))}/${prefix}`;
  });
const clusterSets = fc.constantFrom(["mgmt"] as const, ["ops", "mgmt"] as const, ["ops"] as const);

const offsetIn = (cidr: string, address: string) => parseAddress(address)! - parseCidr(cidr).start;

describe("cluster addresses", () => {
  it("gives the ops and the management cluster of one site disjoint addresses in the reserved head", () => {
    const addresses = siteClusterAddresses({
      subnet: "10.32.0.0/20",
      clusters: ["ops", "mgmt"],
      reservedHead: RESERVED_HEAD_ADDRESSES,
    });
    const all = [
      addresses.ops.vip,
      ...addresses.ops.loadBalancers,
      addresses.mgmt.vip,
      ...addresses.mgmt.loadBalancers,
    ];
    expect(new Set(all).size).toBe(6);
    expect(addresses.ops.virtualRouterId).not.toBe(addresses.mgmt.virtualRouterId);
    for (const address of all) {
      expect(cidrContains("10.32.0.0/20", `${address}/32`)).toBe(true);
      expect(offsetIn("10.32.0.0/20", address)).toBeGreaterThan(1);
      expect(offsetIn("10.32.0.0/20", address)).toBeLessThan(RESERVED_HEAD_ADDRESSES);
    }
  });

  it("keeps a cluster's VIP where it is when the other cluster is added or removed", () => {
    fc.assert(
      fc.property(subnet, (cidr) => {
        const alone = siteClusterAddresses({ subnet: cidr, clusters: ["mgmt"], reservedHead: RESERVED_HEAD_ADDRESSES });
        const withOps = siteClusterAddresses({
          subnet: cidr,
          clusters: ["ops", "mgmt"],
          reservedHead: RESERVED_HEAD_ADDRESSES,
        });
        expect(withOps.mgmt).toEqual(alone.mgmt);
      }),
    );
  });

  it("never hands out the network, the router, a taken address or anything DHCP may lease", () => {
    fc.assert(
      fc.property(subnet, clusterSets, (cidr, clusters) => {
        const addresses = siteClusterAddresses({ subnet: cidr, clusters, reservedHead: RESERVED_HEAD_ADDRESSES });
        const planned = Object.values(addresses).flatMap((a) => [a.vip, ...a.loadBalancers]);
        expect(new Set(planned).size).toBe(planned.length);
        for (const address of planned) {
          const offset = offsetIn(cidr, address);
          expect(offset).toBeGreaterThanOrEqual(2);
          expect(offset).toBeLessThan(RESERVED_HEAD_ADDRESSES);
        }
      }),
    );
  });

  it("is deterministic", () => {
    fc.assert(
      fc.property(subnet, clusterSets, (cidr, clusters) => {
        const input = { subnet: cidr, clusters, reservedHead: RESERVED_HEAD_ADDRESSES };
        expect(siteClusterAddresses(input)).toEqual(siteClusterAddresses(input));
      }),
    );
  });

  it("refuses an address that is already in use, naming it", () => {
    const free = siteClusterAddresses({ subnet: "10.32.0.0/20", clusters: ["mgmt"], reservedHead: 16 });
    expect(() =>
      siteClusterAddresses({ subnet: "10.32.0.0/20", clusters: ["mgmt"], reservedHead: 16, taken: [free.mgmt.vip] }),
    ).toThrow(new RegExp(`${free.mgmt.vip.replace(/\./g, "\\.")}.*already in use`));
  });

  it("refuses a reserved head too small for the clusters of the site", () => {
    expect(() => siteClusterAddresses({ subnet: "10.32.0.0/20", clusters: ["ops", "mgmt"], reservedHead: 8 })).toThrow(
      /cluster mgmt needs offsets 8-10 .* only the first 8 addresses/,
    );
  });
});
