/** Test-environment hygiene: test clusters are labelled as such and hold no production names or addresses. */
import { cidrContains, parseAddress } from "../plan/cidr";
import { isOpaque, type PolicyContext, type ResourcePolicy } from "./model";
import { supernetOf } from "./plan-ranges";
import { isTalosNode } from "./talos-nodes";

function productionReferences(value: unknown, ctx: PolicyContext, path = ""): string[] {
  if (typeof value === "string") {
    if (isOpaque(value)) return [];
    const hits: string[] = [];
    if (/\bproduction-|environments\/production|-production\b/.test(value)) hits.push(`${path} names production`);
    for (const ip of value.match(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g) ?? []) {
      if (parseAddress(ip) !== undefined && cidrContains(supernetOf(ctx, "production"), `${ip}/32`))
        hits.push(`${path} holds production address ${ip}`);
    }
    return hits;
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => productionReferences(v, ctx, `${path}[${i}]`));
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => productionReferences(v, ctx, path ? `${path}.${k}` : k));
  }
  return [];
}

export const testEnvironmentHygiene: ResourcePolicy = {
  kind: "resource",
  name: "test-clusters-labelled-and-synthetic",
  control: "6.5-testing",
  enforcement: "advisory",
  description:
    "In the test environment, cluster nodes are tagged environment:test and no resource refers to a production address, cluster, path or bucket (test data is synthetic).",
  remediation:
    "Tag test nodes environment:test and point data sources at test-only endpoints; copy nothing from production.",
  appliesTo: (r, ctx) => ctx.environment === "test" && r.type !== "pulumi:pulumi:Stack",
  validate: (r, ctx) => {
    const problems: string[] = [];
    if (isTalosNode(r)) {
      const tags = r.props.tags;
      if (!Array.isArray(tags) || !tags.includes("environment:test"))
        problems.push(`${r.name} is not tagged environment:test`);
    }
    return [...problems, ...productionReferences(r.props, ctx).map((hit) => `${r.name}: ${hit}`)];
  },
};
