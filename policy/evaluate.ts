import {
  resourceId,
  type ControlId,
  type EnforcementLevel,
  type Policy,
  type PolicyContext,
  type PolicyResource,
  type StackOutput,
  type Violation,
} from "./model";
import { POLICIES } from "./policies";

export type PolicyStatus = "pass" | "fail" | "advisory" | "not-applicable";

export interface PolicyResult {
  name: string;
  control: ControlId;
  enforcement: EnforcementLevel;
  description: string;
  remediation: string;
  /** `fail` only for a mandatory policy with violations; an advisory one reports `advisory`. */
  status: PolicyStatus;
  /** Resources a resource policy judged; undefined for stack policies. */
  checked?: string[];
  violations: Violation[];
}

/** Runs every policy over one stack's resources, as synth and the tests do. */
export function evaluatePolicies(
  stack: { resources: readonly PolicyResource[]; outputs: readonly StackOutput[] },
  ctx: PolicyContext,
  policies: readonly Policy[] = POLICIES,
): PolicyResult[] {
  return policies.map((policy) => {
    const { name, control, enforcement, description, remediation } = policy;
    let violations: Violation[];
    let checked: string[] | undefined;
    if (policy.kind === "resource") {
      const subjects = stack.resources.filter((r) => policy.appliesTo(r, ctx));
      checked = subjects.map(resourceId);
      violations = subjects.flatMap((r) =>
        policy.validate(r, ctx).map((message) => ({ resource: resourceId(r), message })),
      );
    } else if (policy.appliesToStack && !policy.appliesToStack(ctx)) {
      violations = [];
      checked = [];
    } else {
      violations = policy.validate(stack, ctx);
    }
    const status: PolicyStatus =
      violations.length > 0
        ? enforcement === "mandatory"
          ? "fail"
          : "advisory"
        : checked !== undefined && checked.length === 0
          ? "not-applicable"
          : "pass";
    return {
      name,
      control,
      enforcement,
      description,
      remediation,
      status,
      ...(checked ? { checked } : {}),
      violations,
    };
  });
}

export function mandatoryFailures(results: readonly PolicyResult[]): PolicyResult[] {
  return results.filter((r) => r.status === "fail");
}

/** One line for the synth summary and CI logs. */
export function complianceVerdict(environment: string, results: readonly PolicyResult[]): string {
  const failed = mandatoryFailures(results);
  const advisories = results.filter((r) => r.status === "advisory");
  const advice = advisories.length ? `; advisory findings: ${advisories.map((r) => r.name).join(", ")}` : "";
  if (failed.length === 0) {
    const count = (status: PolicyResult["status"]) => results.filter((r) => r.status === status).length;
    const notApplicable = results.length - count("pass") - advisories.length;
    return (
      `Compliance of ${environment}: PASS, ${count("pass")} of ${results.length} policies pass` +
      `${notApplicable ? `, ${notApplicable} ${notApplicable === 1 ? "does" : "do"} not apply to this stack` : ""}${advice}`
    );
  }
  return `Compliance of ${environment}: FAIL, mandatory violations of ${failed.map((r) => `control ${r.control} (${r.name})`).join(", ")}${advice}`;
}
