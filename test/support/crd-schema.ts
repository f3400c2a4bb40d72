/**
 * Validates a Kubernetes object against a CRD's openAPIV3Schema the way the
 * API server's structural validation does, for the keywords the pinned
 * Cluster API CRDs use: type, properties (unknown fields refused, as with
 * strict field validation), additionalProperties, required, enum, items,
 * pattern, lengths, bounds, item and property counts, anyOf,
 * x-kubernetes-int-or-string, x-kubernetes-preserve-unknown-fields and
 * list-type set/map uniqueness. CEL rules (x-kubernetes-validations) are
 * not evaluated; see docs/decisions/cluster-api.md.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  required?: string[];
  enum?: unknown[];
  items?: Schema;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  anyOf?: Schema[];
  nullable?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
}

export interface CrdExtract {
  modules: { module: string; version: string; sum: string }[];
  capoCloudsSecretKey: string;
  crds: {
    module: string;
    moduleVersion: string;
    group: string;
    kind: string;
    version: string;
    served: boolean;
    schema: Schema;
  }[];
}

export const CRD_EXTRACT_FILE = path.join(__dirname, "..", "fixtures", "capi-crds", "schemas.json");

export function readCrdExtract(): CrdExtract {
  return JSON.parse(fs.readFileSync(CRD_EXTRACT_FILE, "utf8")) as CrdExtract;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function typeProblem(schema: Schema, value: unknown, at: string): string | undefined {
  if (schema["x-kubernetes-int-or-string"]) {
    return Number.isInteger(value) || typeof value === "string" ? undefined : `${at}: expected an integer or a string`;
  }
  switch (schema.type) {
    case undefined:
      return undefined;
    case "object":
      return isObject(value) ? undefined : `${at}: expected an object`;
    case "array":
      return Array.isArray(value) ? undefined : `${at}: expected an array`;
    case "string":
      return typeof value === "string" ? undefined : `${at}: expected a string`;
    case "integer":
      return Number.isInteger(value) ? undefined : `${at}: expected an integer`;
    case "number":
      return typeof value === "number" ? undefined : `${at}: expected a number`;
    case "boolean":
      return typeof value === "boolean" ? undefined : `${at}: expected a boolean`;
    default:
      return `${at}: schema type ${schema.type} is not understood by this validator`;
  }
}

/** Every problem of `value` against `schema`; empty when it is valid. */
export function schemaProblems(schema: Schema, value: unknown, at = ""): string[] {
  if (value === null && schema.nullable) return [];
  const wrongType = typeProblem(schema, value, at || "(root)");
  if (wrongType) return [wrongType];
  const problems: string[] = [];
  if (schema.enum && !schema.enum.some((e) => e === value))
    problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === "string") {
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value))
      problems.push(`${at}: "${value}" does not match ${schema.pattern}`);
    if (schema.minLength !== undefined && [...value].length < schema.minLength)
      problems.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && [...value].length > schema.maxLength)
      problems.push(`${at}: longer than ${schema.maxLength}`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${at}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${at}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      problems.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      problems.push(`${at}: more than ${schema.maxItems} items`);
    if (schema.items) value.forEach((item, i) => problems.push(...schemaProblems(schema.items!, item, `${at}[${i}]`)));
    const listType = schema["x-kubernetes-list-type"];
    const keyOf =
      listType === "set"
        ? (item: unknown) => JSON.stringify(item)
        : listType === "map"
          ? (item: unknown) =>
              JSON.stringify(
                (schema["x-kubernetes-list-map-keys"] ?? []).map((k) => (item as Record<string, unknown>)[k]),
              )
          : undefined;
    if (keyOf) {
      const seen = new Set<string>();
      for (const item of value) {
        const key = keyOf(item);
        if (seen.has(key)) problems.push(`${at}: duplicate ${listType} entry ${key}`);
        seen.add(key);
      }
    }
  }
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (schema.minProperties !== undefined && keys.length < schema.minProperties)
      problems.push(`${at}: fewer than ${schema.minProperties} fields`);
    if (schema.maxProperties !== undefined && keys.length > schema.maxProperties)
      problems.push(`${at}: more than ${schema.maxProperties} fields`);
    for (const required of schema.required ?? []) {
      if (!(required in value)) problems.push(`${at}.${required}: required`);
    }
    for (const key of keys) {
      const child = `${at}.${key}`;
      const declared = schema.properties?.[key];
      if (declared) problems.push(...schemaProblems(declared, value[key], child));
      else if (isObject(schema.additionalProperties))
        problems.push(...schemaProblems(schema.additionalProperties, value[key], child));
      else if (schema.additionalProperties === true || schema["x-kubernetes-preserve-unknown-fields"]) continue;
      // The root's apiVersion/kind/metadata are declared by every CRD schema; anything else unknown is refused.
      else problems.push(`${child}: unknown field`);
    }
  }
  if (
    schema.anyOf &&
    !schema.anyOf.some((s) => schemaProblems({ ...s, type: s.type ?? schema.type }, value, at).length === 0)
  ) {
    problems.push(`${at}: matches none of anyOf`);
  }
  return problems;
}

/** A manifest as parsed from YAML: nothing is known until it is checked. */
export type KubernetesObject = { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } } & Record<
  string,
  unknown
>;

/** Problems of one manifest against the extract: its group/version/kind must be there and served. */
export function manifestProblems(extract: CrdExtract, manifest: KubernetesObject): string[] {
  const [group, version] = String(manifest.apiVersion).split("/");
  const crd = extract.crds.find((c) => c.group === group && c.version === version && c.kind === manifest.kind);
  const metadataName = manifest.metadata?.name;
  const shownName =
    typeof metadataName === "string" ? metadataName : metadataName == null ? "?" : JSON.stringify(metadataName);
  const name = `${String(manifest.kind)}/${shownName}`;
  if (!crd)
    return [
      `${name}: ${String(manifest.apiVersion)} ${String(manifest.kind)} is not among the pinned CRDs (${extract.crds.map((c) => `${c.group}/${c.version} ${c.kind}`).join(", ")})`,
    ];
  if (!crd.served)
    return [`${name}: ${String(manifest.apiVersion)} is not served by ${crd.module}@${crd.moduleVersion}`];
  // The API server validates metadata itself (ObjectMeta); the CRD schema declares it only as an object.
  const { metadata, ...rest } = manifest;
  const problems = schemaProblems(crd.schema, rest, "");
  if (
    typeof metadata?.name !== "string" ||
    !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(metadata.name)
  )
    problems.push(".metadata.name: not a DNS subdomain name");
  return problems.map((p) => `${name}${p}`);
}
