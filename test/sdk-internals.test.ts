/**
 * The SDK internals that stacks/sdk-internals.ts wraps still behave as the
 * program and synth rely on. After an @pulumi/pulumi upgrade, a failure here
 * names the internal that moved; without these checks synth would silently
 * print secrets as plain values or lose parents and dependsOn.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import {
  SECRET_SIG,
  SECRET_SIG_KEY,
  isConfigSecret,
  outputPromise,
  resourceName,
  waitForRPCs,
} from "../stacks/sdk-internals";
import { isSecretEnvelope, redact } from "../synth/mock-runtime";
import { within } from "./support/timed";

/** The SDK declares CustomResource abstract; a provider's resource class is a subclass like this. */
class Thing extends pulumi.CustomResource {
  constructor(name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
    super("test:index:Thing", name, props, opts);
  }
}

const registered: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
const transformed: { name: string; parent: string | undefined; dependsOn: (string | undefined)[] }[] = [];

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource(a) {
        registered.push({ type: a.type, name: a.name, inputs: a.inputs });
        return { id: `${a.name}_id`, state: a.inputs };
      },
      call: (a) => a.inputs,
    },
    "ske-platform",
    "sdk-internals",
    false,
  );
});

describe("SDK internals (stacks/sdk-internals.ts)", () => {
  it("the secret envelope constants are the ones the SDK wraps a secret input in when it hands it to the monitor", async () => {
    expect(typeof SECRET_SIG_KEY, "pulumi.runtime.specialSigKey (runtime/rpc)").toBe("string");
    expect(typeof SECRET_SIG, "pulumi.runtime.specialSecretSig (runtime/rpc)").toBe("string");
    const thing = new Thing("thing", { password: pulumi.secret("s3cret"), plain: "visible" });
    await within(thing.urn, 5_000, "urn of thing");
    await within(waitForRPCs(), 5_000, "waitForRPCs");
    const inputs = registered.find((r) => r.name === "thing")?.inputs;
    expect(inputs, "thing reached the mock monitor").toBeDefined();
    expect(isSecretEnvelope(inputs!.password), "the secret input arrives in the envelope synth recognises").toBe(true);
    expect((inputs!.password as { value: unknown }).value).toBe("s3cret");
    expect(isSecretEnvelope(inputs!.plain)).toBe(false);
    const found: string[] = [];
    expect(redact(inputs, "", found)).toEqual({ password: "[secret]", plain: "visible" });
    expect(found).toEqual(["password"]);
  });

  it("resourceName reads the name the SDK keeps on a resource, which synth records parents and dependsOn by", async () => {
    let second: Thing | undefined;
    let group: pulumi.ComponentResource | undefined;
    await pulumi.runtime.runInPulumiStack(() => {
      pulumi.runtime.registerStackTransformation((args) => {
        transformed.push({
          name: args.name,
          parent: resourceName(args.opts.parent),
          dependsOn: ([] as unknown[]).concat(args.opts.dependsOn ?? []).map(resourceName),
        });
        return undefined;
      });
      group = new pulumi.ComponentResource("test:index:Group", "group-of-things", {});
      const first = new Thing("first", {}, { parent: group });
      second = new Thing("second", {}, { parent: group, dependsOn: [first] });
      return Promise.resolve({});
    });
    await within(second!.urn, 5_000, "urn of second");
    expect(resourceName(group)).toBe("group-of-things");
    expect(resourceName({})).toBeUndefined();
    expect(transformed.find((t) => t.name === "second")).toEqual({
      name: "second",
      parent: "group-of-things",
      dependsOn: ["first"],
    });
  });

  it("isConfigSecret tells a secure config key from a plain one", () => {
    pulumi.runtime.setAllConfig({ "ske-platform:plain": "a", "ske-platform:hidden": "b" }, ["ske-platform:hidden"]);
    expect(isConfigSecret("ske-platform:hidden")).toBe(true);
    expect(isConfigSecret("ske-platform:plain")).toBe(false);
  });

  it("outputPromise gives an Output's value through the SDK's own promise", async () => {
    await expect(
      within(outputPromise(pulumi.output(Promise.resolve({ port: 443 }))), 5_000, "outputPromise"),
    ).resolves.toEqual({ port: 443 });
  });
});
