/**
 * Evaluates a ValidatingAdmissionPolicy spec the way the apiserver does for
 * one request: match the resource rules, bind `variables`, run every
 * validation's CEL expression. The CEL is the program's real text, run by an
 * independent CEL implementation, so a wrong expression fails here.
 */
import { evaluate } from "@marcbachmann/cel-js";

export interface AdmissionRequest {
  operation: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  /** `pods`, `pods/exec`, `namespaces`, `daemonsets`, … */
  resource: string;
  apiGroup?: string;
  username: string;
  groups?: string[];
  object?: unknown;
}

interface Spec {
  matchConstraints: { resourceRules: { apiGroups: string[]; resources: string[]; operations: string[] }[] };
  variables?: { name: string; expression: string }[];
  validations: { expression: string; message: string }[];
}

/** Undefined when the policy does not match the request; else the messages of the failed validations (empty = admitted). */
export function admit(spec: Spec, req: AdmissionRequest): string[] | undefined {
  const matched = spec.matchConstraints.resourceRules.some(
    (rule) =>
      rule.apiGroups.includes(req.apiGroup ?? "") &&
      rule.resources.includes(req.resource) &&
      rule.operations.includes(req.operation),
  );
  if (!matched) return undefined;
  const [, subResource = ""] = req.resource.split("/");
  const context: Record<string, unknown> = {
    request: { operation: req.operation, subResource, userInfo: { username: req.username, groups: req.groups ?? [] } },
    object: req.object ?? null,
  };
  const variables: Record<string, unknown> = {};
  context["variables"] = variables;
  for (const v of spec.variables ?? []) variables[v.name] = evaluate(v.expression, context);
  return spec.validations.filter((v) => evaluate(v.expression, context) !== true).map((v) => v.message);
}
