/**
 * Every talosctl invocation the roll-out scripts make, in every scenario the
 * day 2 tests run, parsed by the real talosctl (scripts/talosctl/build.sh,
 * cached by pin). The recording stand-in would accept any argv; the real
 * parser refuses an unknown flag, a bad value or a wrong argument count
 * before it dials. So each invocation is run against 127.0.0.1:1, where
 * nothing listens, and must get as far as dialling.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import type { RecordedResource } from "../synth/mock-runtime";
import { runRollout, subcommand, type Invocation } from "./support/rollout-engine";
import { synthOk, variantFile } from "./support/stacks";

const PIN = "v1.11.5";
const BINARY =
  process.env.SKE_TALOSCTL ?? path.join(os.homedir(), ".cache", "ske-platform", "talosctl", PIN, "talosctl");
const available = fs.existsSync(BINARY);

/** The invocations of every scenario: config change, Talos and Kubernetes upgrades, refusals, scale down. */
async function allInvocations(): Promise<Invocation[]> {
  const base = await synthOk("test");
  const head = await synthOk(
    "test",
    variantFile("test", (c) => {
      c["ske-platform:clusters"].talosVersion = "1.11.6";
      c["ske-platform:clusters"].kubernetesVersion = "1.34.3";
      c["ske-platform:zitadel"].issuer = "https://login.ske-test.example.net";
    }),
  );
  const five = await synthOk(
    "test",
    variantFile("test", (c) => {
      c["ske-platform:sites"].osl2.nodes.controlPlane = 5;
      c["ske-platform:sites"].osl2.nodes.worker = 4;
    }),
  );
  const gone = five.resources.filter(
    (r) => !base.resources.some((b: RecordedResource) => b.name === r.name) && r.name.endsWith("-apply-config"),
  );
  const runs = [
    runRollout(head.resources),
    runRollout(head.resources, { standin: { TALOSCTL_STANDIN_TALOS_VERSION: "v1.9.3" } }),
    runRollout(base.resources, { changed: () => false, deleted: gone }),
  ];
  return runs.flatMap((r) => r.calls);
}

/** The same argv, aimed at loopback: every node address becomes 127.0.0.1, the endpoint a closed port. */
function aimedAtLoopback(call: Invocation, talosconfig: string): string[] {
  const argv = [...call.argv];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i - 1] === "--talosconfig") argv[i] = talosconfig;
    else if (argv[i - 1] === "--endpoints") argv[i] = "127.0.0.1:1";
    else if (argv[i - 1] === "--file") argv[i] = path.join(path.dirname(talosconfig), "controlplane.yaml");
    else argv[i] = argv[i]!.replace(/\b10\.\d+\.\d+\.\d+\b/g, "127.0.0.1");
  }
  return argv;
}

describe.skipIf(!available)(`the real talosctl ${PIN} argument parser`, () => {
  it("accepts every invocation the roll-out makes: each gets as far as dialling the node", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ske-talosctl-"));
    const gen = spawnSync(BINARY, ["gen", "config", "argv-check", "https://127.0.0.1:6443", "-o", dir], {
      encoding: "utf8",
    });
    expect(gen.status, gen.stderr).toBe(0);
    const talosconfig = path.join(dir, "talosconfig");
    fs.chmodSync(talosconfig, 0o600);

    const calls = await allInvocations();
    const shapes = new Map<string, Invocation>();
    for (const call of calls)
      shapes.set(`${subcommand(call)} ${call.argv.filter((a) => a.startsWith("-")).join(" ")}`, call);
    expect([...new Set([...shapes.values()].map(subcommand))].sort()).toEqual([
      "apply-config",
      "etcd leave",
      "etcd members",
      "health",
      "reset",
      "upgrade",
      "upgrade-k8s",
      "version",
    ]);

    for (const [shape, call] of shapes) {
      const argv = aimedAtLoopback(call, talosconfig);
      const result = spawnSync(BINARY, argv, { encoding: "utf8", timeout: 30_000, input: "" });
      const said = `${result.stdout}\n${result.stderr}`;
      expect(said, `${shape}: ${argv.join(" ")}`).not.toMatch(
        /unknown (flag|command|shorthand)|invalid argument|accepts \d+ arg|Usage:/,
      );
      expect(said, `${shape}: ${argv.join(" ")}`).toMatch(/127\.0\.0\.1:1: connect: connection refused/);
    }
  }, 180_000);

  it("refuses an invocation with a flag talosctl does not have, so the check above can fail", () => {
    const result = spawnSync(
      BINARY,
      ["--endpoints", "127.0.0.1:1", "--nodes", "127.0.0.1", "apply-config", "--mode", "auto", "--reboot-after"],
      { encoding: "utf8", timeout: 30_000 },
    );
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("unknown flag: --reboot-after");
  });
});
