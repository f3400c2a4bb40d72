import { UnknownValueError } from "@pulumi/policy";
import { OPAQUE, type PolicyContext, type PolicyResource } from "./model";
import { isStatefulResource } from "./policies";

/**
 * Copies the pack's proxied props into plain data. Reading an unknown value
 * through the proxy throws; left alone, that would turn the whole policy
 * into an advisory "can't run during preview" note. Each unknown becomes
 * OPAQUE instead, and the policy decides (a mandatory one reports it).
 */
export function plainProps(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [] : {};
  for (const key of Object.keys(value)) {
    let child: unknown;
    try {
      child = plainProps((value as Record<string, unknown>)[key]);
    } catch (err) {
      if (!(err instanceof UnknownValueError)) throw err;
      child = OPAQUE;
    }
    (copy as Record<string, unknown>)[key] = child;
  }
  return copy;
}

/**
 * The inputs of each resource, as the pack's resource policies saw them. A
 * stack policy sees state instead, where what the provider computed (an
 * unknown tenantId at preview) looks like an input the program set to an
 * unknown value; and a provider whose own config is unknown at preview (each
 * cluster's kubernetes provider) returns no state at all. The engine analyzes
 * each resource before the stack, in this same process, so the stack
 * policies can tell computed from set, and judge the inputs where the state
 * is empty, as synth does.
 */
const inputsByUrn = new Map<string, Record<string, unknown>>();

export function recordInputs(urn: string, props: Record<string, unknown>): void {
  inputsByUrn.set(urn, plainProps(props) as Record<string, unknown>);
}

interface PackView {
  type: string;
  name: string;
  urn: string;
  props: Record<string, unknown>;
  opts: { protect: boolean; retainOnDelete?: boolean };
}

/**
 * A resource as a pure policy sees it. `state`: for stack policies; the
 * props nobody recorded as inputs are marked computed, a resource whose
 * inputs were never recorded gets no such mark (everything is judged as an
 * input), and an empty state is replaced by the recorded inputs. retainOnDelete is marked unobserved when @pulumi/policy does not
 * pass it (1.21 passes protect only), instead of being read as false or true.
 */
export function packResource(r: PackView, seen: "inputs" | "state"): PolicyResource {
  const state = plainProps(r.props) as Record<string, unknown>;
  const retainOnDelete = r.opts.retainOnDelete;
  const inputs = seen === "state" ? inputsByUrn.get(r.urn) : undefined;
  const props = inputs && Object.keys(state).length === 0 ? inputs : state;
  const computed = inputs ? Object.keys(props).filter((key) => !(key in inputs)) : undefined;
  return {
    type: r.type,
    name: r.name,
    urn: r.urn,
    props,
    opts: { protect: r.opts.protect === true, retainOnDelete: retainOnDelete === true },
    ...(typeof retainOnDelete === "boolean" ? {} : { unobservedOpts: ["retainOnDelete"] as const }),
    ...(computed ? { computed } : {}),
  };
}

/**
 * What the pack says about the options it cannot see: one advisory line per
 * production or staging stack, naming how many stateful resources it judged
 * on protect alone and who enforces retainOnDelete instead.
 */
export function unobservedProtection(resources: readonly PolicyResource[], ctx: PolicyContext): string | undefined {
  if (ctx.environment !== "production" && ctx.environment !== "staging") return undefined;
  const judged = resources.filter((r) => r.unobservedOpts?.includes("retainOnDelete") && isStatefulResource(r));
  if (judged.length === 0) return undefined;
  return `retainOnDelete NOT checked by this pack on ${judged.length} stateful resource(s) (e.g. ${judged[0]!.name}): @pulumi/policy does not pass it to policy packs, so production-state-protected judged protect alone here. Synth's production-state-protected, a required check, enforces both.`;
}
