/**
 * The Cluster component on its own, under Pulumi mocks: what each instance
 * really receives as user data (parsed, with the secrets in place), and how
 * the bootstrap command gets its talosconfig.
 */
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ADMIN_GROUP, Cluster, type ClusterArgs } from "../components/cluster";
import { BOOTSTRAP_ENV } from "../components/cluster/bootstrap";
import { siteClusterAddresses } from "../plan/cluster-addresses";
import { fakeState } from "../synth/fake-state";
import { isSecretEnvelope } from "../synth/mock-runtime";
import { within } from "./support/timed";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
}
const registered: Registered[] = [];

let cluster: Cluster;

const addresses = siteClusterAddresses({ subnet: "10.34.0.0/20", clusters: ["mgmt"], reservedHead: 16 }).mgmt;

function args(provider: openstack.Provider): ClusterArgs {
  return {
    name: "test-osl2-mgmt",
    role: "management",
    clusterId: "mgmt",
    region: "osl2",
    networkId: "net-id",
    subnetId: "subnet-id",
    subnetCidr: "10.34.0.0/20",
    availabilityZones: ["osl2-a", "osl2-b", "osl2-c"],
    nodes: { controlPlane: 3, worker: 2 },
    flavors: { controlPlane: "c2.large", worker: "c4.xlarge", loadBalancer: "c1.small" },
    talosImageId: "talos-image",
    loadBalancerImageId: "debian-image",
    addresses,
    securityGroupIds: {
      controlPlane: ["sg-cp", "sg-egress"],
      worker: ["sg-worker", "sg-egress"],
      loadBalancer: ["sg-lb", "sg-egress"],
    },
    floatingIpPool: "public",
    talosVersion: "1.11.5",
    kubernetesVersion: "1.34.2",
    ciliumChartVersion: "1.18.4",
    oidc: {
      issuer: "https://id.ske.example.net",
      clientId: "k8s@ske",
      groupsClaim: "groups",
      groupsPrefix: "zitadel:",
      usernamePrefix: "zitadel:",
      requireMfa: true,
    },
    protect: true,
    bootstrap: true,
    kubernetes: true,
    provider,
    tags: ["environment:test"],
  };
}

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource(a) {
        registered.push({ type: a.type, name: a.name, inputs: a.inputs });
        return { id: `${a.name}_id`, state: { ...a.inputs, ...fakeState(a.type, a.name, a.inputs) } };
      },
      call: (a) => a.inputs,
    },
    "ske-platform",
    "test",
    false,
  );
  const provider = new openstack.Provider("test-osl2-openstack", { region: "osl2", delayedAuth: true });
  cluster = new Cluster("test-osl2-mgmt", args(provider));
  // Everything registered once the user data of the last worker resolves.
  await within(cluster.workers.at(-1)!.userData, 10_000, "worker user data");
  await within(cluster.talosconfig, 10_000, "talosconfig");
});

const instance = (name: string) => {
  const found = registered.find((r) => r.type === "openstack:compute/instance:Instance" && r.name === name);
  if (!found) throw new Error(`no instance ${name}`);
  return found;
};
const secretValue = (value: unknown): string => {
  expect(isSecretEnvelope(value), "a Pulumi secret").toBe(true);
  return (value as { value: string }).value;
};

describe("Cluster component", () => {
  it("gives each control-plane instance a secret Talos control-plane config on the VIP", () => {
    for (let i = 0; i < 3; i++) {
      const config = parse(secretValue(instance(`test-osl2-mgmt-cp-${i}`).inputs.userData));
      expect(config.machine.type).toBe("controlplane");
      expect(config.cluster.controlPlane.endpoint).toBe(`https://${addresses.vip}:6443`);
      expect(config.cluster.apiServer.auditPolicy.omitStages).toContain("RequestReceived");
      expect(config.cluster.secretboxEncryptionSecret).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(config.cluster.network.cni.name).toBe("none");
    }
  });

  it("gives workers the worker config, without CA keys", () => {
    const config = parse(secretValue(instance("test-osl2-mgmt-worker-0").inputs.userData));
    expect(config.machine.type).toBe("worker");
    expect(config.cluster.ca.key).toBe("");
    expect(config.machine.ca.key).toBe("");
  });

  it("renders the machine secrets the component generated, and join tokens in bootstrap-token shape", async () => {
    const config = parse(secretValue(instance("test-osl2-mgmt-cp-0").inputs.userData));
    const caPem = await within(cluster.secrets.kubernetesCa.certPem);
    expect(Buffer.from(config.cluster.ca.crt, "base64").toString()).toBe(caPem);
    expect(config.cluster.token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(config.machine.token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
  });

  it("adds the floating IP of the VIP to the API server certificate", async () => {
    const config = parse(secretValue(instance("test-osl2-mgmt-cp-0").inputs.userData));
    const floating = await within(cluster.nodeAddresses.floatingIp!);
    expect(config.cluster.apiServer.certSANs).toEqual([addresses.vip, floating]);
  });

  it("binds the admin certificate's group to cluster-admin at bootstrap, not system:masters", () => {
    const config = parse(secretValue(instance("test-osl2-mgmt-cp-0").inputs.userData));
    const binding = parse(
      config.cluster.inlineManifests.find((m: { name: string }) => m.name === "ske-platform-admins").contents,
    );
    expect(binding.roleRef.name).toBe("cluster-admin");
    expect(binding.subjects).toEqual([{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: ADMIN_GROUP }]);
    const csr = registered.find((r) => r.name === "test-osl2-mgmt-admin-csr")!;
    expect(csr.inputs.subject.organization).toBe(ADMIN_GROUP);
    expect(csr.inputs.subject.organization).not.toBe("system:masters");
    const talosCsr = registered.find((r) => r.name === "test-osl2-mgmt-talos-admin-csr")!;
    expect(talosCsr.inputs.subject.organization).toBe("os:admin");
  });

  it("hands the bootstrap its talosconfig as a secret environment variable, never in the command", async () => {
    const bootstrap = registered.find((r) => r.type === "command:local:Command")!;
    const environment = secretValue(bootstrap.inputs.environment) as unknown as Record<string, string>;
    const talosconfig = await within(cluster.talosconfig);
    expect(environment[BOOTSTRAP_ENV.talosconfig]).toBe(talosconfig);
    const cp0 = (await within(cluster.nodeAddresses.controlPlane))[0];
    expect(environment[BOOTSTRAP_ENV.node]).toBe(cp0);
    const commandText = JSON.stringify({
      create: bootstrap.inputs.create,
      update: bootstrap.inputs.update,
      delete: bootstrap.inputs.delete,
    });
    expect(commandText).not.toContain(parse(talosconfig).contexts["test-osl2-mgmt"].key);
    expect(bootstrap.inputs.update).toBeUndefined();
    expect(bootstrap.inputs.delete).toBeUndefined();
  });

  it("keeps the kubeconfig and talosconfig secret", async () => {
    expect(await pulumi.isSecret(cluster.kubeconfig)).toBe(true);
    expect(await pulumi.isSecret(cluster.talosconfig)).toBe(true);
    const kubeconfig = parse(await within(cluster.kubeconfig));
    expect(kubeconfig.clusters[0].cluster.server).toBe(`https://${addresses.vip}:6443`);
  });

  it("reserves the VIP with its own port and lets both load-balancer ports carry it", () => {
    const ports = registered.filter((r) => r.type === "openstack:networking/port:Port");
    const vipPort = ports.find((p) => p.name === "test-osl2-mgmt-vip")!;
    expect(vipPort.inputs.fixedIps).toEqual([{ subnetId: "subnet-id", ipAddress: addresses.vip }]);
    for (const [i, address] of addresses.loadBalancers.entries()) {
      const port = ports.find((p) => p.name === `test-osl2-mgmt-lb-${i}`)!;
      expect(port.inputs.fixedIps).toEqual([{ subnetId: "subnet-id", ipAddress: address }]);
      expect(port.inputs.allowedAddressPairs).toEqual([{ ipAddress: addresses.vip }]);
    }
  });

  it("backs HAProxy with the control-plane addresses the ports received", async () => {
    const cps = await within(cluster.nodeAddresses.controlPlane);
    const userData = parse(instance("test-osl2-mgmt-lb-0").inputs.userData);
    const haproxy = userData.write_files.find((f: { path: string }) => f.path === "/etc/haproxy/haproxy.cfg").content;
    for (const address of cps) expect(haproxy).toContain(`${address}:6443`);
  });
});
