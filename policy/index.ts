/**
 * The CrossGuard pack: `pulumi preview --policy-pack policy`. It adapts the
 * pure policies of policies.ts; nothing is decided here that synth does not
 * decide the same way.
 *
 * How the pack learns its context: the stack name is read from each
 * resource's URN, and the stack's committed `Pulumi.<stack>.yaml` (beside
 * Pulumi.yaml, one directory up) is validated with the program's own loader
 * together with address-plan.yaml. The admin ranges and exceptions are
 * therefore exactly the ones the program used, and never inferred from the
 * resources being judged.
 */
import * as path from "node:path";
import {
  PolicyPack,
  type PolicyResource as PackResource,
  type ResourceValidationPolicy,
  type StackValidationPolicy,
} from "@pulumi/policy";
import { loadPlatformConfig, readAddressPlan } from "../config/load";
import { readStackFile } from "../config/stack-file";
import { policyContext } from "./context";
import { packResource, plainProps, recordInputs, unobservedProtection } from "./pack-adapter";
import { type PolicyContext, type StackOutput } from "./model";
import { POLICIES, noPlainCredentials, productionProtected } from "./policies";

const PROJECT_ROOT = path.join(__dirname, "..");

const contexts = new Map<string, PolicyContext>();

function stackOf(urn: string): string {
  const match = /^urn:pulumi:([^:]+)::/.exec(urn);
  if (!match) throw new Error(`cannot read the stack name from ${urn}`);
  return match[1]!;
}

function contextFor(urn: string): PolicyContext {
  const stack = stackOf(urn);
  let ctx = contexts.get(stack);
  if (!ctx) {
    const stackFile = readStackFile(path.join(PROJECT_ROOT, `Pulumi.${stack}.yaml`), stack);
    const { config, addressPlan } = loadPlatformConfig(stackFile, readAddressPlan());
    ctx = policyContext(config, addressPlan);
    contexts.set(stack, ctx);
  }
  return ctx;
}

/** Stack outputs as the pack sees them: @pulumi/policy unwraps secrets before a stack policy runs, so secrecy is unobservable. */
function outputsOf(stack: PackResource | undefined): StackOutput[] {
  const flat: StackOutput[] = [];
  const walk = (value: unknown, at: string) => {
    if (typeof value === "object" && value !== null) {
      for (const [key, child] of Object.entries(value))
        walk(child, Array.isArray(value) ? `${at}[${key}]` : at ? `${at}.${key}` : key);
    } else if (value !== undefined) {
      flat.push({ path: at, secret: undefined, value });
    }
  };
  if (stack) walk(plainProps(stack.props), "");
  return flat;
}

/**
 * The one policy the pack cannot enforce: it cannot tell a secret output
 * from a plain one (see outputsOf), so here it only advises, while synth,
 * which sees secrecy exactly, enforces it as mandatory on every pull request.
 */
const PACK_ADVISORY_ONLY = new Set([noPlainCredentials.name]);

const policies = POLICIES.map((policy): ResourceValidationPolicy | StackValidationPolicy => {
  const common = {
    name: policy.name,
    description: `[control ${policy.control}] ${policy.description} Remediation: ${policy.remediation}`,
    enforcementLevel: PACK_ADVISORY_ONLY.has(policy.name) ? ("advisory" as const) : policy.enforcement,
  };
  if (policy.kind === "resource") {
    return {
      ...common,
      validateResource: (args, reportViolation) => {
        const ctx = contextFor(args.urn);
        recordInputs(args.urn, args.props as Record<string, unknown>);
        const resource = packResource({ ...args, props: args.props as Record<string, unknown> }, "inputs");
        if (!policy.appliesTo(resource, ctx)) return;
        for (const message of policy.validate(resource, ctx))
          reportViolation(`[control ${policy.control}] ${message}`, args.urn);
      },
    };
  }
  return {
    ...common,
    validateStack: (args, reportViolation) => {
      const first = args.resources[0];
      if (!first) return;
      const ctx = contextFor(first.urn);
      const resources = args.resources.map((r) =>
        packResource({ ...r, props: r.props as Record<string, unknown> }, "state"),
      );
      const outputs = outputsOf(args.resources.find((r) => r.type === "pulumi:pulumi:Stack"));
      for (const violation of policy.validate({ resources, outputs }, ctx)) {
        const urn = violation.resource
          ? args.resources.find((r) => `${r.type}::${r.name}` === violation.resource)?.urn
          : undefined;
        reportViolation(`[control ${policy.control}] ${violation.message}`, urn);
      }
    },
  };
});

/** Says, once per stack, which part of production-state-protected this pack cannot judge (pack-adapter.ts). */
const retainOnDeleteUnobserved: StackValidationPolicy = {
  name: "production-state-retain-on-delete-unobserved",
  description: `[control ${productionProtected.control}] Packs are not given retainOnDelete; synth's ${productionProtected.name}, a required check, enforces it.`,
  enforcementLevel: "advisory",
  validateStack: (args, reportViolation) => {
    const first = args.resources[0];
    if (!first) return;
    const note = unobservedProtection(
      args.resources.map((r) => packResource({ ...r, props: r.props as Record<string, unknown> }, "state")),
      contextFor(first.urn),
    );
    if (note) reportViolation(`[control ${productionProtected.control}] ${note}`);
  },
};

new PolicyPack("ske-platform-controls", { policies: [...policies, retainOnDeleteUnobserved] });
