/**
 * The lab stack with its compute layer on (test/integration/engine/compute-layer.ts),
 * offline: the stack file the engine tier deploys against Nova must load and
 * synth, and the servers its edits reach (the engine tier's expected counts)
 * are the ones the Talos-wipe guard leaves reachable.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { synthesize } from "../synth";
import {
  reachedBy,
  withComputeLayer,
  INSTANCE,
  type ComputeFixtures,
  type PlannedResource,
} from "./integration/engine/compute-layer";
import { writeLabStack } from "./integration/lab-stack";
import { within } from "./support/timed";

const fixtures: ComputeFixtures = {
  flavors: { small: "lab-small", large: "lab-large", worker: "lab-worker", workerNext: "lab-worker-next" },
  images: {
    talos: "0d8a5f3e-1b2c-4d3e-8f4a-5b6c7d8e9f01",
    debian: "1e9b6a4f-2c3d-4e5f-9a0b-6c7d8e9f0a12",
    talosNext: "2f0c7b5a-3d4e-4f6a-8b1c-7d8e9f0a1b23",
    debianNext: "3a1d8c6b-4e5f-4a7b-9c2d-8e9f0a1b2c34",
  },
  keyPair: "lab-key",
  remove: async () => {},
};

describe("the lab stack with the compute layer on", () => {
  let dir: string;
  let configFile: string;
  let plan: PlannedResource[];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ske-lab-compute-"));
    configFile = writeLabStack(dir, "5d2e9f7c-6a1b-4c3d-8e4f-9a0b1c2d3e45");
    withComputeLayer(configFile, fixtures);
    const result = await within(
      synthesize({ stack: "test-lab", configFile }),
      60_000,
      "synth of the lab stack with compute",
    );
    if (!result.ok) throw new Error(result.error);
    plan = result.resources;
  }, 90_000);

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("switches on the clusters layer only, with runners, and points every site at the lab's flavors, images and keypair", () => {
    const config = (parseYaml(fs.readFileSync(configFile, "utf8")) as { config: Record<string, any> }).config;
    expect(config["ske-platform:layers"]).toEqual({
      clusters: true,
      bootstrap: false,
      kubernetes: false,
      github: false,
    });
    expect(config["ske-platform:runners"]).toMatchObject({ count: 1, flavor: "lab-small" });
    const instances = plan.filter((r) => r.type === INSTANCE);
    expect(instances.map((r) => r.inputs?.flavorName).sort()).toEqual([
      "lab-large",
      "lab-large",
      "lab-small",
      "lab-small",
      "lab-small",
      "lab-small",
      "lab-small",
      "lab-small",
      "lab-worker",
      "lab-worker",
    ]);
    // The jump host and the load balancers boot with the keypair; nodes and runners have none.
    expect(
      instances
        .filter((r) => r.inputs?.keyPair === "lab-key")
        .map((r) => r.name)
        .sort(),
    ).toEqual([
      "test-osl2-jumphost",
      "test-osl2-mgmt-lb-0",
      "test-osl2-mgmt-lb-1",
      "test-osl2-ops-lb-0",
      "test-osl2-ops-lb-1",
    ]);
    expect(plan.some((r) => r.type.startsWith("command:"))).toBe(false);
  });

  it("an image edit reaches the jump host and the load balancers, never a Talos node or a runner (ignoreChanges)", () => {
    expect(
      reachedBy(plan, "imageId", [fixtures.images.talos, fixtures.images.debian])
        .map((r) => r.name)
        .sort(),
    ).toEqual([
      "test-osl2-jumphost",
      "test-osl2-mgmt-lb-0",
      "test-osl2-mgmt-lb-1",
      "test-osl2-ops-lb-0",
      "test-osl2-ops-lb-1",
    ]);
    expect(reachedBy(plan, "imageId", [fixtures.images.talos])).toEqual([]);
  });

  it("a worker flavor edit reaches exactly the workers", () => {
    expect(
      reachedBy(plan, "flavorName", [fixtures.flavors.worker])
        .map((r) => r.name)
        .sort(),
    ).toEqual(["test-osl2-mgmt-worker-0", "test-osl2-ops-worker-0"]);
  });
});
