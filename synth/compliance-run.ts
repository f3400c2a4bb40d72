import { ADDRESS_PLAN_FILE, loadPlatformConfig, readAddressPlan, type RawStackConfig } from "../config/load";
import { policyContext } from "../policy/context";
import { complianceVerdict, evaluatePolicies, mandatoryFailures, type PolicyResult } from "../policy/evaluate";
import { renderComplianceReport } from "./compliance";
import type { ProgramRun } from "./mock-runtime";
import { policyResources, stackOutputs } from "./policy-input";

export interface ComplianceOutcome {
  results: PolicyResult[];
  /** The markdown written to `<out>/<env>/compliance.md`. */
  report: string;
  verdict: string;
  /** Controls with a mandatory violation, e.g. `6.3/6.4`; empty when compliant. */
  failedControls: string[];
}

/**
 * Runs the policy pack's policies over one synthesized stack. The config was
 * already validated by the program; it is read again here for the context
 * (admin ranges, exceptions), never taken from the resources.
 */
export function assessCompliance(args: {
  stackFile: RawStackConfig;
  run: ProgramRun;
  /** Raw inputs by `type::name`, secrets included, as CrossGuard would see them. */
  revealed: ReadonlyMap<string, Record<string, unknown>>;
  sites: readonly string[];
  addressPlanFile?: string;
}): ComplianceOutcome {
  const { config, addressPlan } = loadPlatformConfig(
    args.stackFile,
    readAddressPlan(args.addressPlanFile ?? ADDRESS_PLAN_FILE),
  );
  const ctx = policyContext(config, addressPlan);
  const resources = policyResources(args.run.resources, args.revealed, args.stackFile.stack);
  const outputs = stackOutputs(args.run);
  const results = evaluatePolicies({ resources, outputs }, ctx);
  return {
    results,
    report: renderComplianceReport({
      ctx,
      results,
      resources,
      recorded: args.run.resources,
      outputs,
      sites: args.sites,
    }),
    verdict: complianceVerdict(ctx.environment, results),
    failedControls: [...new Set(mandatoryFailures(results).map((r) => r.control))],
  };
}
