import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import { ROLLOUT_ENV } from "../components/cluster/rollout-scripts";
import { appliedEvidence, evidenceSummary, isControlPlaneApplyStep, stepNode } from "../policy/applied-evidence";
import { apiServerAudit } from "../policy/policies";
import type { PolicyResource } from "../policy/model";
import { diffSnapshots } from "../synth/diff";
import { snapshotOf } from "../synth/diff-input";
import type { RecordedResource } from "../synth/mock-runtime";
import {
  PLACEHOLDERS,
  SECRET_MARK,
  dependencyOrder,
  isStep,
  nodeOf,
  runRollout,
  subcommand,
  type EngineRun,
  type Invocation,
} from "./support/rollout-engine";
import { stackFilePath, synthOk, synthStack, variantFile } from "./support/stacks";

const CONTEXT = {
  ownSupernet: "10.34.0.0/16",
  foreignSupernets: { production: "10.32.0.0/16", staging: "10.33.0.0/16" },
};
const INSTANCE = "openstack:compute/instance:Instance";
const CLUSTER = "test-osl2-mgmt";

const env = (r: RecordedResource) => (r.inputs.environment ?? {}) as Record<string, string>;
const address = (resources: readonly RecordedResource[], node: string) =>
  env(resources.find((r) => isStep(r) && env(r)[ROLLOUT_ENV.nodeName] === node)!)[ROLLOUT_ENV.node]!;
/** The node names a roll-out touched with `what`, in order. */
const touched = (run: EngineRun, resources: readonly RecordedResource[], what: string) => {
  const names = new Map(resources.filter(isStep).map((r) => [env(r)[ROLLOUT_ENV.node], env(r)[ROLLOUT_ENV.nodeName]]));
  return run.calls.filter((c) => subcommand(c) === what).map((c) => names.get(nodeOf(c)));
};
const ofCluster = (names: (string | undefined)[], cluster = CLUSTER) =>
  names.filter((n) => n?.startsWith(`${cluster}-`));

/** Steps whose recorded inputs differ between two synths: what the engine would update. */
type WithDigests = RecordedResource & { secretDigests?: Record<string, string> };
function changedSteps(base: readonly RecordedResource[]) {
  const before = new Map<string, WithDigests>(base.map((r) => [r.name, r]));
  return (step: RecordedResource) => {
    const old = before.get(step.name);
    const now: WithDigests = step;
    return (
      !old ||
      JSON.stringify(old.inputs) !== JSON.stringify(now.inputs) ||
      JSON.stringify(old.secretDigests) !== JSON.stringify(now.secretDigests)
    );
  };
}

async function variant(edit: (c: Record<string, any>) => void) {
  const file = variantFile("test", edit);
  return { file, result: await synthOk("test", file) };
}

const snap = async (file?: string) =>
  snapshotOf(await synthOk("test", file), fs.readFileSync(file ?? stackFilePath("test"), "utf8"));

const newIssuer = (c: Record<string, any>) => {
  c["ske-platform:zitadel"].issuer = "https://login.ske-test.example.net";
};

describe("config roll-out", () => {
  it("previews a config change as one apply-config update per node it reaches and replaces no instance, port or server group", async () => {
    const base = await snap();
    const { file } = await variant(newIssuer);
    const diff = diffSnapshots(base, await snap(file), CONTEXT);
    const infra = /^openstack:(compute\/instance|networking\/port|compute\/serverGroup)/;
    expect(diff.resources.added).toEqual([]);
    expect(diff.resources.removed).toEqual([]);
    expect(diff.resources.changed.filter((c) => infra.test(c.type))).toEqual([]);
    expect(diff.irreversible).toEqual([]);
    // The OIDC issuer is API server config: it reaches every control-plane node and no worker.
    const nodes = base.resources.filter(
      (r) => r.type === INSTANCE && (r.inputs.metadata as Record<string, string>)["node-role"] === "controlplane",
    );
    expect(nodes.length).toBe(6);
    const applies = diff.resources.changed.filter((c) => c.name.endsWith("-apply-config"));
    expect(applies.map((c) => c.name).sort()).toEqual(nodes.map((n) => `${n.name}-apply-config`).sort());
    expect(applies.every((c) => c.operation === "update")).toBe(true);
    // Only the apply steps of the nodes the config reaches change; Talos upgrades and the Kubernetes upgrade do not run.
    expect(
      diff.resources.changed.filter((c) => c.type === "command:local:Command" && !c.name.endsWith("-apply-config")),
    ).toEqual([]);
  });

  it("applies control-plane nodes one at a time, each between two health gates, with no secret on a command line", async () => {
    const base = await synthOk("test");
    const { result: head } = await variant(newIssuer);
    const run = runRollout(head.resources, { changed: changedSteps(base.resources) });
    expect(run.failed).toBeUndefined();
    expect(ofCluster(touched(run, head.resources, "apply-config"))).toEqual([
      `${CLUSTER}-cp-0`,
      `${CLUSTER}-cp-1`,
      `${CLUSTER}-cp-2`,
    ]);
    // Around every apply: a gate on that node before and after, and nothing else in between.
    const sequence = run.calls
      .filter((c) => ["health", "apply-config"].includes(subcommand(c)))
      .map((c) => `${subcommand(c)} ${nodeOf(c)}`);
    for (const call of run.calls.filter((c) => subcommand(c) === "apply-config")) {
      const i = sequence.indexOf(`apply-config ${nodeOf(call)}`);
      expect(sequence[i - 1]).toBe(`health ${nodeOf(call)}`);
      expect(sequence[i + 1]).toBe(`health ${nodeOf(call)}`);
    }
    // The gate checks etcd and readiness of every node of the cluster, not just the one touched.
    const gate = run.calls.find(
      (c) => subcommand(c) === "health" && nodeOf(c) === address(head.resources, `${CLUSTER}-cp-1`),
    )!;
    expect(gate.argv[gate.argv.indexOf("--control-plane-nodes") + 1]!.split(",")).toHaveLength(3);
    noSecretsOnCommandLines(run.calls);
  });

  it("stops at a node whose health gate fails, names it, and leaves every later node untouched", async () => {
    const base = await synthOk("test");
    const { result: head } = await variant(newIssuer);
    const failing = address(head.resources, `${CLUSTER}-cp-1`);
    const run = runRollout(head.resources, {
      changed: changedSteps(base.resources),
      standin: { TALOSCTL_STANDIN_FAIL_HEALTH: failing },
    });
    expect(run.failed?.name).toBe(`${CLUSTER}-cp-1-apply-config`);
    expect(run.failed?.stderr).toContain(
      `roll-out stopped at node ${CLUSTER}-cp-1 (${failing}) of cluster ${CLUSTER}: health gate failed after applying the machine config`,
    );
    const applied = touched(run, head.resources, "apply-config");
    expect(ofCluster(applied)).toEqual([`${CLUSTER}-cp-0`, `${CLUSTER}-cp-1`]);
    expect(run.steps.at(-1)).toBe(run.failed);
  });

  it("does not apply to a node when the cluster is already unhealthy before it is touched", async () => {
    const base = await synthOk("test");
    const { result: head } = await variant(newIssuer);
    // Health fails for cp-0 only once touched: here it is touched by a refused apply, so the run stops at cp-0.
    const run = runRollout(head.resources, {
      changed: changedSteps(base.resources),
      standin: { TALOSCTL_STANDIN_FAIL_APPLY: address(head.resources, `${CLUSTER}-cp-0`) },
    });
    expect(run.failed?.stderr).toContain(`roll-out stopped at node ${CLUSTER}-cp-0`);
    expect(run.failed?.stderr).toContain("apply-config was refused");
    expect(ofCluster(touched(run, head.resources, "apply-config"))).toEqual([`${CLUSTER}-cp-0`]);
  });

  it("keeps worker batches within rollout.workerBatchSize: every worker of a batch waits for the whole previous batch", async () => {
    const { result } = await variant((c) => {
      c["ske-platform:clusters"].ops.nodes.worker = 5;
      c["ske-platform:rollout"].workerBatchSize = 2;
    });
    const ops = "test-osl2-ops";
    const applies = result.resources.filter(
      (r) => r.name.startsWith(`${ops}-worker-`) && r.name.endsWith("-apply-config"),
    );
    const deps = (i: number) =>
      applies
        .find((r) => r.name === `${ops}-worker-${i}-apply-config`)!
        .options.dependsOn.filter((d) => d.endsWith("-apply-config"));
    expect(deps(0)).toEqual([`${ops}-cp-2-apply-config`]);
    expect(deps(1)).toEqual([`${ops}-cp-2-apply-config`]);
    expect(deps(2)).toEqual([`${ops}-worker-0-apply-config`, `${ops}-worker-1-apply-config`]);
    expect(deps(4)).toEqual([`${ops}-worker-2-apply-config`, `${ops}-worker-3-apply-config`]);
  });
});

describe("upgrades", () => {
  it("rolls a Talos version bump node by node with the same gates, replacing no instance", async () => {
    const base = await synthOk("test");
    const { file, result: head } = await variant((c) => {
      c["ske-platform:clusters"].talosVersion = "1.11.6";
    });
    const diff = diffSnapshots(await snap(), await snap(file), CONTEXT);
    expect(diff.resources.changed.filter((c) => c.type === INSTANCE)).toEqual([]);
    expect(diff.irreversible).toEqual([]);
    const run = runRollout(head.resources, { changed: changedSteps(base.resources) });
    expect(run.failed).toBeUndefined();
    expect(ofCluster(touched(run, head.resources, "upgrade"))).toEqual([
      `${CLUSTER}-cp-0`,
      `${CLUSTER}-cp-1`,
      `${CLUSTER}-cp-2`,
      `${CLUSTER}-worker-0`,
      `${CLUSTER}-worker-1`,
      `${CLUSTER}-worker-2`,
    ]);
    // The machine config names the installer too, so every node then gets its apply step, control planes first.
    expect(ofCluster(touched(run, head.resources, "apply-config"))).toEqual([
      `${CLUSTER}-cp-0`,
      `${CLUSTER}-cp-1`,
      `${CLUSTER}-cp-2`,
      `${CLUSTER}-worker-0`,
      `${CLUSTER}-worker-1`,
      `${CLUSTER}-worker-2`,
    ]);
    const upgrade = run.calls.find((c) => subcommand(c) === "upgrade")!;
    expect(upgrade.argv).toContain("ghcr.io/siderolabs/installer:v1.11.6");
    expect(touched(run, head.resources, "upgrade-k8s")).toEqual([]);
    noSecretsOnCommandLines(run.calls);
  });

  it("runs the Kubernetes upgrade once per cluster, after every Talos upgrade of that cluster when both changed", async () => {
    const base = await synthOk("test");
    const { result: head } = await variant((c) => {
      c["ske-platform:clusters"].talosVersion = "1.11.6";
      c["ske-platform:clusters"].kubernetesVersion = "1.34.3";
    });
    const run = runRollout(head.resources, { changed: changedSteps(base.resources) });
    expect(run.failed).toBeUndefined();
    const k8s = run.calls.map((c, i) => [subcommand(c), i, c] as const).filter(([s]) => s === "upgrade-k8s");
    expect(k8s).toHaveLength(2); // ops and mgmt
    for (const [, at, call] of k8s) {
      expect(call.argv.slice(call.argv.indexOf("--to"), call.argv.indexOf("--to") + 2)).toEqual(["--to", "1.34.3"]);
      const cluster = touched({ ...run, calls: [call] }, head.resources, "upgrade-k8s")[0]!.replace(/-cp-0$/, "");
      const lastTalos = Math.max(
        ...run.calls.map((c, i) =>
          subcommand(c) === "upgrade" &&
          touched({ ...run, calls: [c] }, head.resources, "upgrade")[0]!.startsWith(`${cluster}-`)
            ? i
            : -1,
        ),
      );
      const firstApply = run.calls.findIndex(
        (c) =>
          subcommand(c) === "apply-config" &&
          touched({ ...run, calls: [c] }, head.resources, "apply-config")[0]!.startsWith(`${cluster}-`),
      );
      expect(at).toBeGreaterThan(lastTalos);
      expect(firstApply).toBeGreaterThan(at);
    }
  });

  it("refuses at the node a Talos move the node's own version does not allow, whatever the stack file records", async () => {
    const { result: head } = await variant((c) => {
      c["ske-platform:clusters"].talosVersion = "1.11.6";
    });
    const run = runRollout(head.resources, {
      standin: { TALOSCTL_STANDIN_TALOS_VERSION: "v1.9.3" },
      changed: (s) => s.name.endsWith("-talos-upgrade"),
    });
    expect(run.failed?.stderr).toMatch(
      /roll-out stopped at node test-osl2-(ops|mgmt)-cp-0 .*it runs Talos v1\.9\.3; v1\.11\.6 skips a minor release/,
    );
    expect(run.calls.filter((c) => subcommand(c) === "upgrade")).toEqual([]);
    const downgrade = runRollout(head.resources, {
      standin: { TALOSCTL_STANDIN_TALOS_VERSION: "v1.11.7" },
      changed: (s) => s.name.endsWith("-talos-upgrade"),
    });
    expect(downgrade.failed?.stderr).toContain(
      "it runs Talos v1.11.7, newer than v1.11.6: pulumi up does not downgrade",
    );
  });

  const refused = async (edit: (c: Record<string, any>) => void) => {
    const result = await synthStack("test", variantFile("test", edit));
    if (result.ok) throw new Error("expected a refusal");
    expect((result.registered ?? []).filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
    return result.error;
  };

  it("refuses by config a Talos downgrade or minor skip, and a Kubernetes downgrade or minor skip, against rollout.deployed", async () => {
    expect(
      await refused((c) => {
        c["ske-platform:clusters"].talosVersion = "1.11.4";
      }),
    ).toContain(
      "ske-platform:clusters.talosVersion: Talos 1.11.4 is older than the deployed 1.11.5: pulumi up does not downgrade a running cluster (rollout.deployed.talosVersion)",
    );
    expect(
      await refused((c) => {
        c["ske-platform:clusters"].talosVersion = "1.13.0";
      }),
    ).toContain(
      "Talos 1.11.5 → 1.13.0 skips minor releases: Talos upgrades one minor at a time; deploy 1.12.x first, then record it as deployed",
    );
    expect(
      await refused((c) => {
        c["ske-platform:clusters"].kubernetesVersion = "1.34.1";
      }),
    ).toContain("ske-platform:clusters.kubernetesVersion: Kubernetes 1.34.1 is older than the deployed 1.34.2");
    expect(
      await refused((c) => {
        c["ske-platform:rollout"].deployed.kubernetesVersion = "1.32.4";
      }),
    ).toContain(
      "Kubernetes 1.32.4 → 1.34.2 skips minor releases: Kubernetes upgrades one minor at a time; deploy 1.33.x first",
    );
  });
});

describe("evidence tells the truth", () => {
  /** The stack state after the engine ran: a step's new inputs only where it succeeded. */
  const stateAfter = (base: readonly RecordedResource[], head: readonly RecordedResource[], run: EngineRun) => {
    const succeeded = new Set(run.steps.filter((s) => s.ok).map((s) => s.name));
    const now = new Map(head.map((r) => [r.name, r]));
    return base.map((r) => (succeeded.has(r.name) ? now.get(r.name)! : r));
  };
  const asPolicy = (r: RecordedResource): PolicyResource => ({ type: r.type, name: r.name, props: r.inputs });
  const issuers = (state: readonly RecordedResource[]) =>
    Object.fromEntries(
      state
        .map(asPolicy)
        .filter(isControlPlaneApplyStep)
        .filter((s) => stepNode(s).startsWith(CLUSTER))
        .map((s) => [stepNode(s), (appliedEvidence(s) as Record<string, string>)["oidc-issuers"]]),
    );

  it("changes the OIDC evidence only for nodes whose apply succeeded, and for every control plane once the roll-out did", async () => {
    const base = await synthOk("test");
    const { result: head } = await variant(newIssuer);
    const changed = changedSteps(base.resources);
    const OLD = "https://id.ske.example.net";
    const NEW = "https://login.ske-test.example.net";
    expect(Object.values(issuers(base.resources))).toEqual([OLD, OLD, OLD]);

    const failed = runRollout(head.resources, {
      changed,
      standin: { TALOSCTL_STANDIN_FAIL_HEALTH: address(head.resources, `${CLUSTER}-cp-1`) },
    });
    const partial = issuers(stateAfter(base.resources, head.resources, failed));
    expect(partial[`${CLUSTER}-cp-1`]).not.toContain(NEW);
    expect(partial[`${CLUSTER}-cp-2`]).not.toContain(NEW);
    // The compliance policy judges what the nodes run against the desired issuer: not yet there, so not PASS.
    const ctx = { oidc: { issuer: NEW, requireMfa: true } } as Parameters<typeof apiServerAudit.validate>[1];
    const cp1 = stateAfter(base.resources, head.resources, failed)
      .map(asPolicy)
      .find((s) => isControlPlaneApplyStep(s) && stepNode(s) === `${CLUSTER}-cp-1`)!;
    expect(apiServerAudit.validate(cp1, ctx)).toEqual(
      expect.arrayContaining([expect.stringContaining(`the API server trusts ${OLD}, not ${NEW}`)]),
    );

    const done = runRollout(head.resources, { changed });
    expect(done.failed).toBeUndefined();
    const after = stateAfter(base.resources, head.resources, done);
    expect(Object.values(issuers(after))).toEqual([NEW, NEW, NEW]);
    for (const step of after.map(asPolicy).filter(isControlPlaneApplyStep)) {
      expect(evidenceSummary(step)).toContain(NEW);
      // The apply step printed the evidence only after its gate passed.
      const run = done.steps.find((s) => s.name === step.name);
      if (stepNode(step).startsWith(CLUSTER))
        expect(run?.stdout).toContain(`ske-applied-evidence SKE_EVIDENCE_OIDC_ISSUERS=${NEW}`);
    }
  });

  it("puts no audit or OIDC claim in instance metadata, which would follow the desired config at once", async () => {
    const { resources } = await synthOk("test");
    for (const node of resources.filter((r) => r.type === INSTANCE)) {
      expect(Object.keys(node.inputs.metadata as object).filter((k) => /^(audit|oidc)-/.test(k))).toEqual([]);
    }
  });
});

describe("scaling", () => {
  it("adds a worker with a port, an instance and its steps, and gates every node before and after", async () => {
    const base = await synthOk("test");
    const { file, result: head } = await variant((c) => {
      c["ske-platform:sites"].osl2.nodes.worker += 1;
    });
    const diff = diffSnapshots(await snap(), await snap(file), CONTEXT);
    const n = base.resources.filter((r) => r.name.startsWith(`${CLUSTER}-worker-`) && r.type === INSTANCE).length;
    expect(diff.resources.added.map((r) => r.name).sort()).toEqual(
      [
        `${CLUSTER}-worker-${n}`,
        `${CLUSTER}-worker-${n}`,
        `${CLUSTER}-worker-${n}-apply-config`,
        `${CLUSTER}-worker-${n}-talos-upgrade`,
      ].sort(),
    );
    expect(diff.irreversible).toEqual([]);
    const run = runRollout(head.resources, { changed: changedSteps(base.resources) });
    expect(run.failed).toBeUndefined();
    expect(ofCluster(touched(run, head.resources, "apply-config"))).toContain(`${CLUSTER}-worker-${n}`);
  });

  it("grows the control plane 3 → 5 one etcd member at a time: each new node is created only after the previous one's gate", async () => {
    const { result } = await variant((c) => {
      c["ske-platform:sites"].osl2.nodes.controlPlane = 5;
    });
    const node = (i: number) => result.resources.find((r) => r.type === INSTANCE && r.name === `${CLUSTER}-cp-${i}`)!;
    expect(node(2).options.dependsOn).toEqual([]);
    expect(node(3).options.dependsOn).toEqual([`${CLUSTER}-cp-2-talos-upgrade`]);
    expect(node(4).options.dependsOn).toEqual([`${CLUSTER}-cp-3-talos-upgrade`]);
    const step3 = result.resources.find((r) => r.name === `${CLUSTER}-cp-3-talos-upgrade`)!;
    expect(step3.options.dependsOn).toContain(`${CLUSTER}-cp-3`);
    // The bootstrap waits only for the initial quorum, or a 5-node cluster could never be created.
    expect(
      result.resources
        .find((r) => r.name === `${CLUSTER}-bootstrap`)!
        .options.dependsOn.filter((d) => d.includes("-cp-")),
    ).toEqual([0, 1, 2].map((i) => `${CLUSTER}-cp-${i}`));
    const order = dependencyOrder(result.resources).map((r) => r.name);
    expect(order.indexOf(`${CLUSTER}-cp-3-talos-upgrade`)).toBeLessThan(order.indexOf(`${CLUSTER}-cp-4-talos-upgrade`));
  });

  it("takes a removed control-plane node out of etcd before its instance goes, and drains a removed worker", async () => {
    const { result: five } = await variant((c) => {
      c["ske-platform:sites"].osl2.nodes.controlPlane = 5;
      c["ske-platform:sites"].osl2.nodes.worker = 4;
    });
    const { result: three } = await variant((c) => {
      c["ske-platform:sites"].osl2.nodes.controlPlane = 3;
      c["ske-platform:sites"].osl2.nodes.worker = 3;
    });
    const kept = new Set(three.resources.map((r) => r.name));
    const gone = five.resources.filter((r) => !kept.has(r.name));
    expect(
      gone
        .filter((r) => r.type === INSTANCE)
        .map((r) => r.name)
        .sort(),
    ).toEqual([`${CLUSTER}-cp-3`, `${CLUSTER}-cp-4`, `${CLUSTER}-worker-3`]);
    // The engine deletes a resource's dependents first: each apply step depends on its instance.
    for (const instance of gone.filter((r) => r.type === INSTANCE)) {
      expect(gone.find((r) => r.name === `${instance.name}-apply-config`)!.options.dependsOn).toContain(instance.name);
    }
    const run = runRollout(three.resources, {
      changed: () => false,
      deleted: gone.filter((r) => r.name.endsWith("-apply-config")),
    });
    expect(run.failed).toBeUndefined();
    const words = run.calls.map((c) => `${subcommand(c)} ${nodeOf(c)}`);
    const addr = (i: number) => address(five.resources, `${CLUSTER}-cp-${i}`);
    const anchor = addr(0);
    expect(words.filter((w) => w.startsWith("etcd"))).toEqual([
      `etcd members ${anchor}`,
      `etcd leave ${addr(4)}`,
      `etcd members ${anchor}`,
      `etcd members ${anchor}`,
      `etcd leave ${addr(3)}`,
      `etcd members ${anchor}`,
    ]);
    expect(words).toContain(`reset ${address(five.resources, `${CLUSTER}-worker-3`)}`);
    noSecretsOnCommandLines(run.calls);
  });

  it("refuses to remove a deployed site from production unless rollout.drainedSites lists it", async () => {
    const edit = (drained: string[]) => (c: Record<string, any>) => {
      c["ske-platform:rollout"].deployed.sites = ["osl2", "sto2", "hel1"];
      c["ske-platform:rollout"].drainedSites = drained;
    };
    const refusedRun = await synthStack("production", variantFile("production", edit([])));
    expect(refusedRun.ok).toBe(false);
    if (!refusedRun.ok) {
      expect(refusedRun.error).toContain(
        "ske-platform:sites: site hel1 is deployed (rollout.deployed.sites) but no longer configured",
      );
      expect(refusedRun.error).toContain("production refuses this until rollout.drainedSites lists hel1");
      expect((refusedRun.registered ?? []).filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
    }
    expect((await synthStack("production", variantFile("production", edit(["hel1"])))).ok).toBe(true);
    // Outside production a removal is a reviewed change like any other.
    expect(
      (
        await synthStack(
          "test",
          variantFile("test", (c) => {
            c["ske-platform:rollout"].deployed.sites = ["osl2", "hel1"];
          }),
        )
      ).ok,
    ).toBe(true);
  });

  it("refuses a worker batch that would take a whole worker pool away", async () => {
    const result = await synthStack(
      "test",
      variantFile("test", (c) => {
        c["ske-platform:rollout"].workerBatchSize = 2;
      }),
    );
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.error).toContain(
        "ske-platform:rollout.workerBatchSize: 2 would take all 2 workers of clusters.ops.nodes.worker away at once; use at most 1",
      );
  });
});

function noSecretsOnCommandLines(calls: readonly Invocation[]) {
  expect(calls.length).toBeGreaterThan(0);
  const encoded = Object.values(PLACEHOLDERS).map((p) => Buffer.from(p).toString("base64").slice(0, 16));
  for (const call of calls) {
    expect(call.argv.join(" ")).not.toContain(SECRET_MARK);
    for (const e of encoded) expect(call.argv.join(" ")).not.toContain(e);
    expect(call.talosconfigMode).toBe("600");
    if (call.fileMode !== undefined) expect(call.fileMode).toBe("600");
  }
}
