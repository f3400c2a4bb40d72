/**
 * Every Talos machine config the program renders, for every node of every
 * committed stack, checked by the real `talosctl validate --mode cloud
 * --strict` (scripts/talosctl/build.sh, cached by pin): the parser Talos
 * itself uses, where strict turns its warnings into errors. The configs hold
 * the clusters' secrets (CA keys, tokens), so they are written only into a
 * 0700 scratch directory, 0600 each, removed afterwards.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { INSTANCE, assertPresent, consumerGate, revealedResources, run, scratchDir } from "./support/consumers";
import { ROOT, STACKS } from "./support/stacks";

const PIN = /^require github\.com\/siderolabs\/talos (v\S+)$/m.exec(
  fs.readFileSync(path.join(ROOT, "scripts", "talosctl", "go.mod"), "utf8"),
)?.[1];
const candidate =
  process.env.SKE_TALOSCTL ??
  path.join(os.homedir(), ".cache", "ske-platform", "talosctl", PIN ?? "unpinned", "talosctl");
const talosctl = fs.existsSync(candidate) ? candidate : undefined;
const gate = consumerGate(talosctl, "talosctl (scripts/talosctl/build.sh: SKE_TALOSCTL or the cache by pin)");

/**
 * talosctl quotes the offending part of a config, values included; a failure
 * message must not carry the clusters' keys and tokens into CI logs. Every
 * long unbroken string of the config is hidden (URLs and images with them).
 */
function withoutSecrets(output: string, config: string): string {
  const values: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === "string") {
      if (v.length >= 16 && !/\s/.test(v)) values.push(v);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(parse(config));
  return values.sort((a, b) => b.length - a.length).reduce((text, v) => text.replaceAll(v, "[hidden]"), output);
}

describe.skipIf(gate.skip)("Talos machine configs under `talosctl validate --mode cloud --strict`", () => {
  // Made in beforeAll, not here: a skipped describe's callback still runs, its afterAll does not.
  let scratch: ReturnType<typeof scratchDir> | undefined;
  /** Distinct config texts, each with the nodes that boot from it. */
  const configs = new Map<string, string[]>();
  let n = 0;
  const validate = (text: string) => {
    const file = path.join(scratch!.dir, `${n++}-machine-config.yaml`);
    fs.writeFileSync(file, text, { mode: 0o600 });
    return run(talosctl!, ["validate", "--config", file, "--mode", "cloud", "--strict"]);
  };

  beforeAll(async () => {
    scratch = scratchDir("ske-talos-configs-");
    for (const stack of STACKS) {
      for (const r of await revealedResources(stack)) {
        const userData = r.inputs["userData"];
        if (r.type !== INSTANCE || typeof userData !== "string" || userData.startsWith("#cloud-config")) continue;
        configs.set(userData, [...(configs.get(userData) ?? []), `${stack}/${r.name}`]);
      }
    }
  }, 90_000);
  afterAll(() => scratch?.remove());

  it("accepts every node's machine config of every committed stack", () => {
    assertPresent(gate);
    const nodes = [...configs.values()].flat();
    expect(nodes.some((node) => /-cp-\d+$/.test(node))).toBe(true);
    expect(nodes.some((node) => /-worker-\d+$/.test(node))).toBe(true);
    for (const [text, boots] of configs) {
      expect(text).toMatch(/^version: v1alpha1$/m);
      const result = validate(text);
      expect(result.status, `${boots.join(", ")}: ${withoutSecrets(result.output, text)}`).toBe(0);
    }
  });

  it("rejects a rendered config with an unknown field", () => {
    assertPresent(gate);
    const broken = parse([...configs.keys()][0]!);
    broken.machine.kubeletx = structuredClone(broken.machine.kubelet);
    const result = validate(stringify(broken));
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/^unknown keys found during decoding:\nmachine:\n\s+kubeletx:/);
  });
});
