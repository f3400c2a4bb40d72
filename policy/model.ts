/**
 * What the policies see: plain resource records and a context, the same
 * whether they come from the CrossGuard pack at preview time or from the
 * offline synth. Nothing here imports @pulumi/policy or @pulumi/pulumi, so
 * tests and synth can load the policies without a gRPC server.
 */
import type { AddressPlan, EnvironmentName } from "../plan/address-plan";
import type { ProjectPlan } from "../plan/project-plan";
import type { PublicExceptionInput } from "../plan/security-rules";
import type { ControlSettings } from "./controls-on";

export interface PolicyResource {
  /** Pulumi type token, e.g. `openstack:networking/secGroupRule:SecGroupRule`. */
  type: string;
  name: string;
  /** `urn:pulumi:<stack>::<project>::<parent types $-joined>$<type>::<name>`; its type chain tells what a resource belongs to. */
  urn?: string;
  /** Inputs (resource policies) or state (stack policies). Values not readable at preview are `OPAQUE`. */
  props: Record<string, unknown>;
  opts?: { protect: boolean; retainOnDelete: boolean };
  /**
   * Set by the CrossGuard pack only (policy/pack-adapter.ts), never by synth,
   * which records inputs and every option. `computed`: props of the state a
   * stack policy sees that the program did not set as inputs (the provider
   * computed them). `unobservedOpts`: options @pulumi/policy does not pass to
   * packs, whose value in `opts` is therefore not the resource's.
   */
  computed?: readonly string[];
  unobservedOpts?: readonly "retainOnDelete"[];
}

/** One stack output: where, whether it is a Pulumi secret, and the value (opaque when it is). */
export interface StackOutput {
  path: string;
  /** Undefined when the runner cannot observe secrecy (see policy/index.ts). */
  secret: boolean | undefined;
  value: unknown;
}

/**
 * Stands for a value the policy cannot read: unknown during preview, or a
 * secret that synth redacted when recording. A mandatory check that needs
 * such a value reports a violation instead of passing.
 */
export const OPAQUE = "[opaque]";
const OPAQUE_MARKERS = new Set([OPAQUE, "[secret]"]);

export function isOpaque(value: unknown): boolean {
  return typeof value === "string" && OPAQUE_MARKERS.has(value);
}

export type ControlId = "6.1" | "6.2" | "6.3/6.4" | "6.5-audit" | "6.5-testing";

export const CONTROLS: Record<ControlId, string> = {
  "6.1": "6.1 Environment separation",
  "6.2": "6.2 Change management",
  "6.3/6.4": "6.3 / 6.4 Production data stays in production",
  "6.5-audit": "6.5 Audit-trail protection",
  "6.5-testing": "6.5 Testing environment security",
};

export type EnforcementLevel = "mandatory" | "advisory";

export interface PolicyContext {
  environment: EnvironmentName;
  /** The committed address plan of every environment (address-plan.yaml). */
  addressPlan: AddressPlan;
  /** Every environment's OpenStack project per site (openstack-projects.yaml). */
  projects: ProjectPlan;
  /** The environment's declared operator ranges (access.adminCidrs). */
  adminCidrs: readonly string[];
  /** Named openings wider than the plan (access.publicExceptions). */
  publicExceptions: readonly PublicExceptionInput[];
  /** Whether this stack owns the repositories' branch protection (github.ownsRepositorySettings). */
  ownsRepositorySettings: boolean;
  argocdNamespace: string;
  oidc: { issuer: string; requireMfa: boolean };
  /** The auditor group as Kubernetes sees it (prefixed) and as Argo CD's RBAC names it. */
  auditors: { kubernetesGroup: string; argocdGroup: string };
  /** OIDC clients the other environments' committed stack files trust; none may be trusted here. */
  foreignClients?: readonly { environment: string; key: string; clientId: string; file: string }[];
  /** Switchable controls as configured; absent where a context is built by hand. */
  controls?: ControlSettings;
  /** The platform group and the break-glass group as Kubernetes sees them; absent, no human group may hold a built-in admin role. */
  platform?: { kubernetesGroup: string };
  breakGlass?: { kubernetesGroup: string };
  /** The environment's writer projects (audit.archive.writerProjects and backups.writerProjects): its own, though not in openstack-projects.yaml. */
  archiveWriterProjects?: readonly string[];
}

export interface Violation {
  /** `type::name` of the offending resource, or undefined for a stack-wide finding. */
  resource?: string;
  message: string;
}

interface PolicyBase {
  name: string;
  control: ControlId;
  enforcement: EnforcementLevel;
  description: string;
  remediation: string;
}

/** Judges one resource at a time; `appliesTo` keeps the pack from calling it for every type. */
export interface ResourcePolicy extends PolicyBase {
  kind: "resource";
  appliesTo: (resource: PolicyResource, ctx: PolicyContext) => boolean;
  /** Messages; empty when the resource complies. */
  validate: (resource: PolicyResource, ctx: PolicyContext) => string[];
}

/** Judges the stack as a whole: relations between resources, or the stack outputs. */
export interface StackPolicy extends PolicyBase {
  kind: "stack";
  /** Environments the policy judges; elsewhere the report says n/a rather than pass. */
  appliesToStack?: (ctx: PolicyContext) => boolean;
  validate: (
    stack: { resources: readonly PolicyResource[]; outputs: readonly StackOutput[] },
    ctx: PolicyContext,
  ) => Violation[];
}

export type Policy = ResourcePolicy | StackPolicy;

export const resourceId = (r: Pick<PolicyResource, "type" | "name">) => `${r.type}::${r.name}`;

/** The types of a resource's ancestors and itself, read from its URN. */
export function typeChain(resource: PolicyResource): string[] {
  const parts = resource.urn?.split("::");
  return parts && parts.length >= 4 ? parts[2]!.split("$") : [resource.type];
}

/** Dotted-path lookup that stops at opaque values. */
export function at(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (isOpaque(current) || typeof current !== "object" || current === null)
      return isOpaque(current) ? current : undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** `value?.[key]` for a value of unknown type: undefined unless the value is an object (opaque values included, unlike at()). */
export function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}
