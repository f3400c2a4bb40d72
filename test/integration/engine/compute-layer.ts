/**
 * The compute layer of the lab stack, for the engine tier when the lab runs
 * Nova (openstack-lab/start-nova.sh): what the clusters layer needs from the
 * cloud (flavors, active images, a Nova keypair, quotas that fit), the stack
 * file with that layer switched on, and Nova's own view of what an `up` made.
 *
 * The program declares no keypair: sites name an existing one (`keyPair`),
 * which the jump host and the load balancers boot with. The lab makes that
 * keypair for the deployer user, as an operator would, and Nova must report
 * it on exactly those servers.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import type { LabInfo, Session } from "../lab";
import type { LabProject } from "../lab-projects";
import { api, projectSession } from "../preflight-cloud";

/** True when the lab in `labDir` was started with Nova (start-nova.sh recorded its API's PID). */
export function novaRuns(labDir: string): boolean {
  return fs.existsSync(`${labDir}/pids/nova-api.pid`);
}

export interface ComputeFixtures {
  flavors: { small: string; large: string; worker: string; workerNext: string };
  images: { talos: string; debian: string; talosNext: string; debianNext: string };
  keyPair: string;
  /** Removes the flavors, images and keypair again; never throws. */
  remove(): Promise<void>;
}

/** Flavors (admin), images and a keypair (the deployer, in its own project), and quotas the plan fits in. */
export async function createComputeFixtures(lab: LabInfo, admin: Session, own: LabProject): Promise<ComputeFixtures> {
  if (!own.deployer) throw new Error(`${own.name} has no deployer`);
  const deployer = await projectSession(lab, { name: own.deployer.userName, password: own.deployer.password }, own.id);
  const nova = admin.endpoint("compute", lab.region);
  const deployerNova = deployer.endpoint("compute", lab.region);
  const glance = deployer.endpoint("image", lab.region);
  const neutron = `${admin.endpoint("network", lab.region)}/v2.0`;
  const suffix = randomBytes(3).toString("hex");
  const flavorIds: string[] = [];
  const imageIds: string[] = [];
  let keyPair = "";
  const remove = async () => {
    const quietly = (p: Promise<unknown>) => p.catch((err: unknown) => console.log(`  cleanup: ${String(err)}`));
    if (keyPair) await quietly(api(deployer, "DELETE", `${deployerNova}/os-keypairs/${keyPair}`));
    for (const id of imageIds) await quietly(api(deployer, "DELETE", `${glance}/v2/images/${id}`));
    for (const id of flavorIds) await quietly(api(admin, "DELETE", `${nova}/flavors/${id}`));
  };
  try {
    const flavor = async (key: string, vcpus: number, ram: number) => {
      const name = `ske-lab-${suffix}-${key}`;
      const created = await api<{ flavor: { id: string } }>(admin, "POST", `${nova}/flavors`, {
        flavor: { name, vcpus, ram, disk: 1 },
      });
      flavorIds.push(created!.flavor.id);
      return name;
    };
    // Four distinct names, so that an edit of one flavor key touches only the
    // servers of that key, and the expected counts can be read off the plan.
    const flavors = {
      small: await flavor("small", 1, 512),
      large: await flavor("large", 2, 1024),
      worker: await flavor("worker", 2, 2048),
      workerNext: await flavor("worker-next", 4, 2048),
    };
    const image = async (key: string) => {
      const created = await api<{ id: string }>(deployer, "POST", `${glance}/v2/images`, {
        name: `ske-lab-${suffix}-${key}`,
        disk_format: "raw",
        container_format: "bare",
      });
      imageIds.push(created!.id);
      // Uploaded, so Glance reports it active (pre-flight refuses any other status).
      await api(deployer, "PUT", `${glance}/v2/images/${created!.id}/file`, new Uint8Array(1024), {
        "Content-Type": "application/octet-stream",
      });
      return created!.id;
    };
    const images = {
      talos: await image("talos"),
      debian: await image("debian"),
      talosNext: await image("talos-next"),
      debianNext: await image("debian-next"),
    };
    // Nova generates the key (microversion 2.1); the private half is not kept.
    keyPair = `ske-lab-${suffix}`;
    await api(deployer, "POST", `${deployerNova}/os-keypairs`, { keypair: { name: keyPair } });
    await api(admin, "PUT", `${nova}/os-quota-sets/${own.id}`, {
      quota_set: { instances: 30, cores: 80, ram: 60_000, server_groups: 20, server_group_members: 20 },
    });
    await api(admin, "PUT", `${neutron}/quotas/${own.id}`, {
      quota: {
        port: 60,
        security_group: 20,
        security_group_rule: 200,
        floatingip: 5,
        network: 5,
        subnet: 5,
        router: 5,
      },
    });
    return { flavors, images, keyPair, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/**
 * The rendered lab stack file with the clusters layer on, pointed at the
 * fixtures: one deploy runner (the clusters layer requires runners), the
 * site's flavors, images and keypair. The other layers stay off.
 */
export function withComputeLayer(configFile: string, fixtures: ComputeFixtures): void {
  const doc = parseYaml(fs.readFileSync(configFile, "utf8")) as { config: Record<string, unknown> };
  const c = doc.config;
  c["ske-platform:layers"] = { ...(c["ske-platform:layers"] as Record<string, unknown>), clusters: true };
  for (const site of Object.values(c["ske-platform:sites"] as Record<string, Record<string, unknown>>)) {
    site.talosImageId = fixtures.images.talos;
    site.jumpHostImageId = fixtures.images.debian;
    site.keyPair = fixtures.keyPair;
    site.flavors = {
      controlPlane: fixtures.flavors.large,
      worker: fixtures.flavors.worker,
      loadBalancer: fixtures.flavors.small,
      jumpHost: fixtures.flavors.small,
    };
  }
  c["ske-platform:runners"] = {
    count: 1,
    flavor: fixtures.flavors.small,
    workflows: "any",
    // The runner's cloud-init pins the CLI by checksum; this pair is the test stack's (Pulumi.test.yaml).
    tools: {
      pulumi: { version: "3.259.0", sha256: "94ba357acac23d01474084c4b00098dc0f7bc70ce13f34c777459254a5f718e5" },
    },
  };
  fs.writeFileSync(configFile, stringifyYaml(doc));
}

/** A resource as synth (scripts/synth.ts) writes it to resources.json. */
export interface PlannedResource {
  type: string;
  name: string;
  inputs?: Record<string, unknown>;
  options?: { ignoreChanges?: string[] };
}

export const INSTANCE = "openstack:compute/instance:Instance";

/**
 * Instances of the plan whose `input` holds one of `values` and which do
 * not ignore changes to it: the servers an edit of that input reaches.
 */
export function reachedBy(
  plan: readonly PlannedResource[],
  input: string,
  values: readonly unknown[],
): PlannedResource[] {
  return plan.filter(
    (r) =>
      r.type === INSTANCE && values.includes(r.inputs?.[input]) && !(r.options?.ignoreChanges ?? []).includes(input),
  );
}
