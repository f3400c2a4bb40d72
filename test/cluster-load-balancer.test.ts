import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadBalancerCloudInit, type LoadBalancerConfigInput } from "../components/cluster/load-balancer-config";

const input: LoadBalancerConfigInput = {
  clusterName: "production-osl2-mgmt",
  vip: "10.32.0.8",
  subnet: "10.32.0.0/20",
  self: "10.32.0.9",
  peer: "10.32.0.10",
  primary: true,
  virtualRouterId: 52,
  controlPlaneAddresses: ["10.32.1.20", "10.32.1.21", "10.32.1.22"],
};

function files(userData: string) {
  expect(userData.startsWith("#cloud-config\n")).toBe(true);
  const doc = parse(userData);
  const byPath = Object.fromEntries(doc.write_files.map((f: { path: string; content: string }) => [f.path, f.content]));
  return {
    doc,
    haproxy: byPath["/etc/haproxy/haproxy.cfg"] as string,
    keepalived: byPath["/etc/keepalived/keepalived.conf"] as string,
  };
}

describe("HAProxy pair cloud-init", () => {
  it("installs haproxy and keepalived and writes their configs after the packages", () => {
    const { doc } = files(loadBalancerCloudInit(input));
    expect(doc.packages).toEqual(expect.arrayContaining(["haproxy", "keepalived"]));
    expect(doc.write_files.every((f: { defer?: boolean }) => f.defer === true)).toBe(true);
  });

  it("fronts 6443 and balances over every control-plane node", () => {
    const { haproxy } = files(loadBalancerCloudInit(input));
    expect(haproxy).toMatch(/^frontend kube-apiserver\n\s+bind :6443$/m);
    expect(haproxy).toMatch(/^\s+mode tcp$/m);
    for (const address of input.controlPlaneAddresses) {
      expect(haproxy).toContain(`${address}:6443 check`);
    }
  });

  it("forwards a passthrough port to its backends only when asked", () => {
    expect(files(loadBalancerCloudInit(input)).haproxy).not.toContain("31100");
    const { haproxy } = files(
      loadBalancerCloudInit({
        ...input,
        passthrough: [{ name: "audit-ingest", port: 31100, backends: ["10.32.2.30", "10.32.2.31"] }],
      }),
    );
    expect(haproxy).toMatch(/^frontend audit-ingest\n\s+bind :31100$/m);
    expect(haproxy).toContain("10.32.2.30:31100 check");
    expect(haproxy).toContain("10.32.2.31:31100 check");
    expect(haproxy).not.toMatch(/10\.32\.1\.2\d:31100/);
  });

  it("holds the VIP with unicast VRRP between the pair, the primary preferred", () => {
    const primary = files(loadBalancerCloudInit(input)).keepalived;
    const secondary = files(
      loadBalancerCloudInit({ ...input, primary: false, self: input.peer, peer: input.self }),
    ).keepalived;
    expect(primary).toContain("10.32.0.8/20");
    expect(primary).toMatch(/unicast_src_ip 10\.32\.0\.9\n\s+unicast_peer \{\n\s+10\.32\.0\.10/);
    expect(secondary).toMatch(/unicast_src_ip 10\.32\.0\.10\n\s+unicast_peer \{\n\s+10\.32\.0\.9/);
    const priority = (text: string) => Number(/priority (\d+)/.exec(text)![1]);
    expect(priority(primary)).toBeGreaterThan(priority(secondary));
    expect(primary).toContain("virtual_router_id 52");
    // The VIP moves only while HAProxy itself runs.
    expect(primary).toMatch(/track_script \{\n\s+haproxy_alive/);
  });

  it("refuses a VRRP router id outside 1-255", () => {
    expect(() => loadBalancerCloudInit({ ...input, virtualRouterId: 256 })).toThrow(/1-255/);
  });
});
