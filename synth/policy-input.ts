/**
 * Turns what synth recorded into the plain records the policies judge, the
 * way the CrossGuard pack sees a preview: secret inputs as their values
 * (CrossGuard unwraps secrets for policies too), resources under a URN whose
 * type chain names their parents, and the stack outputs with their secrecy.
 */
import type { PolicyResource, StackOutput } from "../policy/model";
import { revealSecrets, type ProgramRun, type RecordedResource } from "./mock-runtime";

function urnOf(
  resource: RecordedResource,
  byName: Map<string, RecordedResource>,
  stack: string,
  project: string,
): string {
  const chain: string[] = [resource.type];
  let parent = resource.parent ? byName.get(resource.parent) : undefined;
  while (parent && parent.type !== "pulumi:pulumi:Stack") {
    chain.unshift(parent.type);
    parent = parent.parent ? byName.get(parent.parent) : undefined;
  }
  return `urn:pulumi:${stack}::${project}::${chain.join("$")}::${resource.name}`;
}

/**
 * `revealed` holds each resource's raw inputs by `type::name`; without an
 * entry the recorded (redacted) inputs are used, and the policies treat the
 * redacted values as unreadable.
 */
export function policyResources(
  resources: readonly RecordedResource[],
  revealed: ReadonlyMap<string, Record<string, unknown>>,
  stack: string,
  project = "ske-platform",
): PolicyResource[] {
  // Component names are unique within a stack, which is all the URN chain needs.
  const byName = new Map(resources.filter((r) => !r.custom).map((r) => [r.name, r]));
  return resources.map((r) => {
    const raw = revealed.get(`${r.type}::${r.name}`);
    return {
      type: r.type,
      name: r.name,
      urn: urnOf(r, byName, stack, project),
      props: raw ? (revealSecrets(raw) as Record<string, unknown>) : r.inputs,
      opts: { protect: r.options.protect, retainOnDelete: r.options.retainOnDelete },
    };
  });
}

function valueAt(root: unknown, path: string): unknown {
  const keys = path.split(/\.|\[(\d+)\]/).filter((k) => k !== undefined && k !== "");
  return keys.reduce<unknown>(
    (node, key) => (typeof node === "object" && node !== null ? (node as Record<string, unknown>)[key] : undefined),
    root,
  );
}

/** Stack outputs with exact secrecy, which synth observes and the pack cannot. */
export function stackOutputs(
  run: Pick<ProgramRun, "outputs" | "plainOutputPaths" | "secretOutputPaths">,
): StackOutput[] {
  return [
    ...run.plainOutputPaths.map((path) => ({ path, secret: false, value: valueAt(run.outputs, path) })),
    ...run.secretOutputPaths.map((path) => ({ path, secret: true, value: "[secret]" })),
  ];
}
