/**
 * The clusters layer as the real program registers it, for the committed
 * stacks and for variants that change one key.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { RecordedResource } from "../synth/mock-runtime";
import { fakeState } from "../synth/fake-state";
import { committedConfig, ofType, synthOk, synthStack, variantFile } from "./support/stacks";

const P = "ske-platform:";
const INSTANCE = "openstack:compute/instance:Instance";
const PORT = "openstack:networking/port:Port";
const SERVER_GROUP = "openstack:compute/serverGroup:ServerGroup";
const FLOATING_IP = "openstack:networking/floatingIp:FloatingIp";
const CLUSTER = "ske:cluster:Cluster";
const COMMAND = "command:local:Command";
const HELM = "kubernetes:helm.sh/v3:Release";
const K8S_PROVIDER = "pulumi:providers:kubernetes";
const CLUSTER_LAYER_TYPES = [
  INSTANCE,
  SERVER_GROUP,
  CLUSTER,
  COMMAND,
  HELM,
  K8S_PROVIDER,
  "ske:talos:MachineSecrets",
  "ske:access:JumpHost",
];

type Run = Awaited<ReturnType<typeof synthOk>>;
const byName = (run: Run, type: string, name: string) => {
  const found = run.resources.find((r) => r.type === type && r.name === name);
  if (!found) throw new Error(`no ${type} named ${name}`);
  return found;
};
/** Security-group resource names of the ids a port carries (mocks give `<name>_id`). */
const groupNames = (port: RecordedResource) =>
  (port.inputs.securityGroupIds as string[]).map((id) => id.replace(/_id$/, ""));
const providerName = (r: RecordedResource) => r.provider?.split("::")[3];

/** What the configured stack must contain: the ops cluster in its site and a management cluster per site. */
function expectedClusters(stack: string) {
  const config = committedConfig(stack);
  const sites = Object.keys(config[`${P}sites`]).sort();
  const opsSite = config[`${P}clusters`].ops.site as string;
  return [
    { name: `${stack}-${opsSite}-ops`, site: opsSite, role: "ops", nodes: config[`${P}clusters`].ops.nodes },
    ...sites.map((site) => ({
      name: `${stack}-${site}-mgmt`,
      site,
      role: "management",
      nodes: config[`${P}sites`][site].nodes,
    })),
  ];
}

describe.each(["production", "test"] as const)("clusters of %s", (stack) => {
  let run: Run;
  beforeAll(async () => {
    run = await synthOk(stack);
  });
  const expected = expectedClusters(stack);

  it("creates the ops cluster in its configured site and one management cluster in every site", () => {
    expect(
      ofType(run.resources, CLUSTER)
        .map((c) => c.name)
        .sort(),
    ).toEqual(expected.map((c) => c.name).sort());
    const outputs = run.outputs.clusters as Record<string, { role: string; site: string }>;
    for (const cluster of expected) {
      expect(outputs[cluster.name]).toMatchObject({ role: cluster.role, site: cluster.site });
    }
    expect(expected.filter((c) => c.role === "ops")).toHaveLength(1);
  });

  it("runs the configured number of control-plane nodes and workers, apart from each other", () => {
    for (const cluster of expected) {
      const cps = ofType(run.resources, INSTANCE).filter((r) => r.name.startsWith(`${cluster.name}-cp-`));
      const workers = ofType(run.resources, INSTANCE).filter((r) => r.name.startsWith(`${cluster.name}-worker-`));
      expect(cps).toHaveLength(cluster.nodes.controlPlane ?? 3);
      expect(workers).toHaveLength(cluster.nodes.worker);
      const group = byName(run, SERVER_GROUP, `${cluster.name}-controlplane`);
      expect(group.inputs.policies).toEqual(["anti-affinity"]);
      for (const cp of cps) {
        expect(cp.inputs.schedulerHints).toEqual([{ group: `${group.name}_id` }]);
      }
      // Spread over the site's availability zones as well.
      expect(new Set(cps.map((cp) => cp.inputs.availabilityZone)).size).toBe(Math.min(cps.length, 3));
    }
  });

  it("puts every node on a port of the site subnet carrying its role's group and egress", () => {
    for (const cluster of expected) {
      const prefix = `${stack}-${cluster.site}`;
      const id = cluster.role === "ops" ? "ops" : "mgmt";
      const instances = ofType(run.resources, INSTANCE).filter((r) => r.parent === cluster.name);
      expect(instances.length).toBeGreaterThan(0);
      for (const instance of instances) {
        const networks = instance.inputs.networks as { port: string }[];
        expect(networks).toHaveLength(1);
        const port = byName(run, PORT, networks[0]!.port.replace(/_id$/, ""));
        expect(port.inputs.fixedIps).toEqual([expect.objectContaining({ subnetId: `${prefix}-subnet_id` })]);
        const role = /-cp-\d+$/.test(instance.name)
          ? "controlplane"
          : /-worker-\d+$/.test(instance.name)
            ? "worker"
            : "loadbalancer";
        expect(groupNames(port).sort(), instance.name).toEqual([`${prefix}-${id}-${role}`, `${prefix}-egress`].sort());
        expect(instance.inputs.securityGroups, "groups belong on the port").toBeUndefined();
      }
    }
  });

  it("has one jump host per site, carrying only the jumphost and egress groups", () => {
    const sites = Object.keys(committedConfig(stack)[`${P}sites`]);
    expect(ofType(run.resources, "ske:access:JumpHost")).toHaveLength(sites.length);
    for (const site of sites) {
      const port = byName(run, PORT, `${stack}-${site}-jumphost`);
      expect(groupNames(port).sort()).toEqual([`${stack}-${site}-egress`, `${stack}-${site}-jumphost`]);
    }
  });

  it("fronts each API with a load-balancer pair holding the VIP, and no floating IP unless asked", () => {
    for (const cluster of expected) {
      const vip = byName(run, PORT, `${cluster.name}-vip`);
      const address = (vip.inputs.fixedIps as { ipAddress: string }[])[0]!.ipAddress;
      expect((run.outputs.clusters as any)[cluster.name].endpoint).toBe(`https://${address}:6443`);
      for (const i of [0, 1]) {
        expect(byName(run, PORT, `${cluster.name}-lb-${i}`).inputs.allowedAddressPairs).toEqual([
          { ipAddress: address },
        ]);
      }
      expect(byName(run, SERVER_GROUP, `${cluster.name}-loadbalancer`).inputs.policies).toEqual(["anti-affinity"]);
    }
    expect(ofType(run.resources, FLOATING_IP)).toEqual([]);
    expect(ofType(run.resources, "openstack:loadbalancer/loadBalancer:LoadBalancer"), "no Octavia").toEqual([]);
  });

  it("passes every OpenStack resource its own site's provider and every Kubernetes resource its cluster's", () => {
    for (const r of run.resources.filter((r) => r.custom && r.type.startsWith("openstack:"))) {
      const site = /^[a-z]+-([a-z0-9]+)-/.exec(r.name)?.[1];
      expect(providerName(r), r.name).toBe(`${stack}-${site}-openstack`);
    }
    for (const cluster of expected) {
      const k8s = run.resources.filter((r) => r.type.startsWith("kubernetes:") && r.parent === cluster.name);
      expect(k8s.length).toBeGreaterThan(0);
      for (const r of k8s) expect(providerName(r), r.name).toBe(`${cluster.name}-k8s`);
    }
  });

  it("installs Cilium from its chart repository right after the bootstrap, with kube-proxy replacement on the VIP", () => {
    const version = committedConfig(stack)[`${P}clusters`].ciliumChartVersion;
    for (const cluster of expected) {
      const cilium = byName(run, HELM, `${cluster.name}-cilium`);
      expect(cilium.inputs).toMatchObject({
        chart: "cilium",
        version,
        repositoryOpts: { repo: "https://helm.cilium.io" },
      });
      const values = cilium.inputs.values as Record<string, unknown>;
      expect(values.kubeProxyReplacement).toBe(true);
      expect(`https://${String(values.k8sServiceHost)}:${String(values.k8sServicePort)}`).toBe(
        (run.outputs.clusters as any)[cluster.name].endpoint,
      );
      expect(cilium.options.dependsOn).toEqual([`${cluster.name}-bootstrap`]);
    }
  });

  it("bootstraps each cluster once, keyed on its identity, with the talosconfig only in a secret environment", () => {
    const commands = ofType(run.resources, COMMAND).filter((c) => c.name.endsWith("-bootstrap"));
    expect(commands.map((c) => c.name).sort()).toEqual(expected.map((c) => `${c.name}-bootstrap`).sort());
    for (const command of commands) {
      expect(command.secretPaths).toContain("environment");
      expect(command.inputs.update).toBeUndefined();
      expect(command.inputs.delete).toBeUndefined();
      expect(command.inputs.create as string).not.toMatch(/contexts:|BEGIN|FAKE-SYNTH/);
      expect((command.inputs.triggers as string[])[0]).toBe(command.parent);
    }
  });

  it("keeps every key, token, machine config, kubeconfig and talosconfig a secret", () => {
    const mustBeSecret: Record<string, string[]> = {
      "tls:index/selfSignedCert:SelfSignedCert": ["privateKeyPem"],
      "tls:index/certRequest:CertRequest": ["privateKeyPem"],
      "tls:index/locallySignedCert:LocallySignedCert": ["caPrivateKeyPem"],
      [K8S_PROVIDER]: ["kubeconfig"],
    };
    for (const [type, paths] of Object.entries(mustBeSecret)) {
      const resources = ofType(run.resources, type);
      expect(resources.length, type).toBeGreaterThan(0);
      for (const r of resources) for (const path of paths) expect(r.secretPaths, `${r.name}.${path}`).toContain(path);
    }
    for (const talosNode of ofType(run.resources, INSTANCE).filter((r) => /-(cp|worker)-\d+$/.test(r.name))) {
      expect(talosNode.secretPaths, talosNode.name).toContain("userData");
    }

    // No generated secret appears anywhere in plain inputs or outputs: not as
    // PEM, not base64-encoded as in machine configs, not as a join-token half.
    const ofClusters = run.resources.filter((r) => expected.some((c) => r.name.startsWith(`${c.name}-`)));
    const forms = ofClusters.flatMap((r): string[] => {
      const fake = fakeState(r.type, r.name, r.inputs);
      if (r.type === "tls:index/privateKey:PrivateKey") {
        const body = String(fake.privateKeyPem).split("\n")[1]!;
        return [body, Buffer.from(String(fake.privateKeyPem)).toString("base64")];
      }
      if (r.type === "random:index/randomPassword:RandomPassword") {
        const token = String(fake.result);
        return [token, token.slice(0, 6) + ".", "." + token.slice(6)];
      }
      if (r.type === "random:index/randomBytes:RandomBytes") return [String(fake.base64)];
      return [];
    });
    expect(forms.length).toBeGreaterThan(0);
    const plain = JSON.stringify([run.resources.map((r) => r.inputs), run.outputs]);
    const leaked = forms.filter((form) => plain.includes(form));
    expect(leaked).toEqual([]);

    for (const cluster of expected) {
      expect(run.secretOutputPaths).toEqual(
        expect.arrayContaining([`clusters.${cluster.name}.kubeconfig`, `clusters.${cluster.name}.talosconfig`]),
      );
      expect(run.plainOutputPaths).toEqual(
        expect.arrayContaining([
          `clusters.${cluster.name}.endpoint`,
          `clusters.${cluster.name}.nodeAddresses.vip`,
          `clusters.${cluster.name}.nodeAddresses.controlPlane[0]`,
          `clusters.${cluster.name}.nodeAddresses.workers[0]`,
        ]),
      );
    }
  });

  it(`${stack === "production" ? "protects" : "does not protect"} control planes and machine secrets as protection.statefulResources says`, () => {
    const protectedByConfig = committedConfig(stack)[`${P}protection`].statefulResources as boolean;
    expect(protectedByConfig).toBe(stack === "production");
    const stateful = run.resources.filter(
      (r) => (r.type === INSTANCE && /-cp-\d+$/.test(r.name)) || (r.custom && r.parent?.endsWith("-secrets")),
    );
    expect(stateful.length).toBeGreaterThan(0);
    for (const r of stateful) {
      expect(r.options, r.name).toMatchObject({ protect: protectedByConfig, retainOnDelete: protectedByConfig });
    }
    // Workers and load balancers are cattle.
    for (const r of ofType(run.resources, INSTANCE).filter((r) => /-(worker|lb)-\d+$/.test(r.name))) {
      expect(r.options.protect, r.name).toBe(false);
    }
  });
});

describe("protection of production", () => {
  it("refuses a production stack with protection off unless config says so", async () => {
    const refused = await synthStack(
      "production",
      variantFile("production", (c) => {
        c[`${P}protection`] = { statefulResources: false };
      }),
    );
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error).toMatch(/protection\.statefulResources.*allowUnprotectedProduction/s);

    const allowed = await synthOk(
      "production",
      variantFile("production", (c) => {
        c[`${P}protection`] = { statefulResources: false, allowUnprotectedProduction: true };
      }),
    );
    const cps = ofType(allowed.resources, INSTANCE).filter((r) => /-cp-\d+$/.test(r.name));
    expect(cps.length).toBe(9);
    for (const cp of cps) expect(cp.options.protect).toBe(false);
  });
});

describe("layers", () => {
  it("creates no cluster resource at all when layers.clusters is off", async () => {
    const run = await synthOk(
      "test",
      variantFile("test", (c) => {
        c[`${P}layers`] = { clusters: false, bootstrap: false, kubernetes: false };
      }),
    );
    for (const type of CLUSTER_LAYER_TYPES) expect(ofType(run.resources, type), type).toEqual([]);
    expect(run.resources.filter((r) => r.type === PORT)).toEqual([]);
    expect(run.outputs.clusters).toEqual({});
  });

  it("skips only the bootstrap when layers.bootstrap is off", async () => {
    const run = await synthOk(
      "test",
      variantFile("test", (c) => {
        c[`${P}layers`] = { bootstrap: false };
      }),
    );
    expect(ofType(run.resources, COMMAND).filter((c) => c.name.endsWith("-bootstrap"))).toEqual([]);
    expect(ofType(run.resources, CLUSTER)).toHaveLength(2);
    const cilium = byName(run, HELM, "test-osl2-ops-cilium");
    expect(cilium.options.dependsOn).toEqual(["test-osl2-ops-cp-0", "test-osl2-ops-cp-1", "test-osl2-ops-cp-2"]);
  });

  it("creates no Kubernetes provider or release when layers.kubernetes is off, but still outputs the kubeconfig as a secret", async () => {
    const run = await synthOk(
      "test",
      variantFile("test", (c) => {
        c[`${P}layers`] = { kubernetes: false };
      }),
    );
    expect(run.resources.filter((r) => r.type.startsWith("kubernetes:") || r.type === K8S_PROVIDER)).toEqual([]);
    expect(ofType(run.resources, COMMAND).filter((c) => c.name.endsWith("-bootstrap"))).toHaveLength(2);
    expect(run.secretOutputPaths).toContain("clusters.test-osl2-ops.kubeconfig");
  });
});

describe("floating IPs", () => {
  it("are created only where config asks, from the named external network", async () => {
    const run = await synthOk(
      "test",
      variantFile("test", (c) => {
        c[`${P}sites`].osl2.floatingIps = { loadBalancers: true, jumpHost: true };
        c[`${P}sites`].osl2.externalNetworkName = "public";
      }),
    );
    const fips = ofType(run.resources, FLOATING_IP);
    // On the VIP ports and the jump host, never on a node's or a load balancer's own port.
    expect(fips.map((f) => f.inputs.portId).sort()).toEqual([
      "test-osl2-jumphost_id",
      "test-osl2-mgmt-vip_id",
      "test-osl2-ops-vip_id",
    ]);
    for (const fip of fips) expect(fip.inputs.pool).toBe("public");
    expect(run.plainOutputPaths).toContain("clusters.test-osl2-mgmt.nodeAddresses.floatingIp");
  });

  it("are refused without the external network's name, naming the key", async () => {
    const refused = await synthStack(
      "production",
      variantFile("production", (c) => {
        c[`${P}sites`].sto2.floatingIps = { loadBalancers: true };
      }),
    );
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error).toMatch(/sites\.sto2\.externalNetworkName/);
  });
});

describe("control-plane default", () => {
  it("runs three control-plane nodes when the count is left out", async () => {
    const run = await synthOk(
      "test",
      variantFile("test", (c) => {
        delete c[`${P}sites`].osl2.nodes.controlPlane;
        delete c[`${P}clusters`].ops.nodes.controlPlane;
      }),
    );
    for (const cluster of ["test-osl2-ops", "test-osl2-mgmt"]) {
      expect(ofType(run.resources, INSTANCE).filter((r) => r.name.startsWith(`${cluster}-cp-`))).toHaveLength(3);
    }
  });
});
