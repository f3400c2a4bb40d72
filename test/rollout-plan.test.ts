import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { installerImage, joinsAfter, removedSites, rolloutWaves, versionMoveProblem } from "../plan/rollout";

describe("roll-out waves", () => {
  it("touch every node exactly once: control planes alone and first, workers in batches no larger than asked", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 3, 5),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 10 }),
        (controlPlane, worker, batch) => {
          const waves = rolloutWaves({ controlPlane, worker }, batch);
          const nodes = waves.flat().map((n) => `${n.role}-${n.index}`);
          expect(new Set(nodes).size).toBe(nodes.length);
          expect(nodes).toHaveLength(controlPlane + worker);
          const cpWaves = waves.filter((w) => w.some((n) => n.role === "controlplane"));
          expect(cpWaves.every((w) => w.length === 1)).toBe(true);
          expect(waves.slice(0, controlPlane)).toEqual(cpWaves);
          expect(waves.slice(controlPlane).every((w) => w.length <= batch && w.every((n) => n.role === "worker"))).toBe(
            true,
          );
        },
      ),
    );
  });

  it("refuses a batch size that is not a positive integer", () => {
    expect(() => rolloutWaves({ controlPlane: 3, worker: 3 }, 0)).toThrow(
      "workerBatchSize must be a positive integer, got 0",
    );
  });

  it("joins control-plane nodes past the initial quorum one after the other", () => {
    expect([0, 1, 2, 3, 4].map(joinsAfter)).toEqual([undefined, undefined, undefined, 2, 3]);
  });
});

describe("version moves", () => {
  const version = fc.tuple(fc.constant(1), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 20 }));
  const text = ([a, b, c]: [number, number, number]) => `${a}.${b}.${c}`;

  it("allow exactly: the same version, a newer patch, or any version of the next minor", () => {
    fc.assert(
      fc.property(version, version, (from, to) => {
        const allowed = (to[1] === from[1] && to[2] >= from[2]) || to[1] === from[1] + 1;
        expect(versionMoveProblem("Talos", text(from), text(to)) === undefined).toBe(allowed);
      }),
    );
  });

  it("name the product, both versions and the next step", () => {
    expect(versionMoveProblem("Kubernetes", "1.33.4", "1.35.0")).toBe(
      "Kubernetes 1.33.4 → 1.35.0 skips minor releases: Kubernetes upgrades one minor at a time; deploy 1.34.x first, then record it as deployed",
    );
    expect(versionMoveProblem("Talos", "1.11.5", "1.10.9")).toBe(
      "Talos 1.10.9 is older than the deployed 1.11.5: pulumi up does not downgrade a running cluster",
    );
  });

  it("point upgrades at the installer image the machine config names", () => {
    expect(installerImage("1.11.6")).toBe("ghcr.io/siderolabs/installer:v1.11.6");
  });
});

describe("removed sites", () => {
  it("are the deployed sites no longer configured, split by whether config declares them drained", () => {
    expect(removedSites(["osl2", "sto2", "hel1", "ams1"], ["osl2", "sto2"], ["ams1", "osl2"])).toEqual({
      drained: ["ams1"],
      notDrained: ["hel1"],
    });
  });
});
