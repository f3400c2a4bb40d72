import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { readStackFile } from "../config/stack-file";
import { ProgramFailed, runProgram } from "../synth/mock-runtime";
import { stackFilePath } from "./support/stacks";
import { within } from "./support/timed";

/** A resource type the mock runtime accepts without a provider plugin. */
class Probe extends pulumi.CustomResource {
  constructor(name: string, props: Record<string, pulumi.Input<unknown>>) {
    super("test:index:Probe", name, props);
  }
}

const stackFile = () => readStackFile(stackFilePath("test"), "test");
const failingRender = () =>
  pulumi.output("1.14.0").apply((version): string => {
    throw new Error(`renderer refuses ${version}`);
  });

describe("the mock runtime never drops a resource silently", () => {
  it("fails the run when an apply feeding a resource input throws, and names the error", async () => {
    const run = within(
      runProgram({
        stackFile: stackFile(),
        entry: () => {
          new Probe("kept", { value: "plain" });
          new Probe("dropped", { userData: failingRender() });
          return Promise.resolve({});
        },
      }),
      10_000,
      "run",
    );
    const err = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProgramFailed);
    expect((err as ProgramFailed).message).toMatch(/renderer refuses 1\.14\.0/);
    expect((err as ProgramFailed).message).toMatch(/were not registered/);
    // What had been registered is still reported, and the dropped resource is not among it.
    expect((err as ProgramFailed).registered.map((r) => r.name)).toContain("kept");
    expect((err as ProgramFailed).registered.map((r) => r.name)).not.toContain("dropped");
  });

  it("fails the run when a secret-wrapped apply throws (the Talos user-data shape)", async () => {
    const run = within(
      runProgram({
        stackFile: stackFile(),
        entry: () => {
          new Probe("node", { userData: pulumi.secret(pulumi.all([pulumi.output("a")]).apply(() => failingRender())) });
          return Promise.resolve({});
        },
      }),
      10_000,
      "run",
    );
    await expect(run).rejects.toThrow(/renderer refuses 1\.14\.0/);
  });

  it("fails the run when an apply nobody consumes throws", async () => {
    const run = within(
      runProgram({
        stackFile: stackFile(),
        entry: () => {
          failingRender();
          return Promise.resolve({});
        },
      }),
      10_000,
      "run",
    );
    await expect(run).rejects.toThrow(/renderer refuses/);
  });

  it("fails the run, instead of hanging, when a stack output is a rejected Output", async () => {
    const run = within(
      runProgram({
        stackFile: stackFile(),
        entry: () => Promise.resolve({ evidence: failingRender() }),
      }),
      10_000,
      "run",
    );
    await expect(run).rejects.toThrow(/renderer refuses 1\.14\.0/);
  });

  it("still runs a program whose applies all succeed", async () => {
    const run = await within(
      runProgram({
        stackFile: stackFile(),
        entry: () => {
          new Probe("ok", { userData: pulumi.secret(pulumi.output("x").apply((v) => `${v}!`)) });
          return Promise.resolve({ answer: pulumi.output(42) });
        },
      }),
      10_000,
      "run",
    );
    expect(run.resources.map((r) => r.name)).toContain("ok");
    expect(run.outputs).toEqual({ answer: 42 });
  });
});
