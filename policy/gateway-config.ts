/**
 * What every nginx ingest gateway must refuse, for both the audit ingest and
 * the platform ingest: one list, so the two policies cannot drift apart.
 */
import type { GatewayConfigFacts } from "../components/audit-trail/ingest-gateway";
import { resourceId, type PolicyResource, type Violation } from "./model";

/** Unauthenticated locations, a missing catch-all refusal and plain HTTP, in that order; `gateway` names it in messages. */
export function gatewayBaselineProblems(
  deployment: PolicyResource,
  facts: GatewayConfigFacts,
  gateway: string,
): Violation[] {
  const violations: Violation[] = [];
  for (const l of facts.proxiedLocations.filter((l) => !facts.authenticatedLocations.includes(l))) {
    violations.push({ resource: resourceId(deployment), message: `${gateway} proxies ${l} without basic auth` });
  }
  if (!facts.catchAllRefuses)
    violations.push({ resource: resourceId(deployment), message: `${gateway} does not refuse every other path` });
  if (!facts.tlsOnly)
    violations.push({
      resource: resourceId(deployment),
      message: `${gateway} accepts connections without TLS, so push credentials travel in clear`,
    });
  return violations;
}
