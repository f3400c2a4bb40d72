/**
 * Security-group rules (controls 6.1, 6.3/6.4, 6.5-testing): sources stay
 * within the address plan, production admits nothing from staging or test,
 * and no rule admits another environment's supernet.
 */
import { ANY_IPV4, cidrContains, cidrOverlaps, cidrProblem } from "../plan/cidr";
import { OPAQUE, isOpaque, type PolicyContext, type PolicyResource, type ResourcePolicy } from "./model";
import { TYPES } from "./resource-types";
import { foreignEnvironments, supernetOf } from "./plan-ranges";
import { displayText } from "../plan/display-text";

interface RulePeer {
  direction: string;
  /** The CIDR the rule admits (OPAQUE when not known at preview); a rule with neither prefix nor group admits everything. */
  cidr: string | undefined;
}

function rulePeer(rule: PolicyResource): RulePeer {
  const p = rule.props;
  const direction = String(p.direction);
  if (isOpaque(p.remoteIpPrefix)) return { direction, cidr: OPAQUE };
  if (typeof p.remoteIpPrefix === "string" && p.remoteIpPrefix !== "") return { direction, cidr: p.remoteIpPrefix };
  // A remote group names peers of this stack's own groups; OpenStack treats
  // a rule with neither a prefix nor a group as 0.0.0.0/0.
  if (p.remoteGroupId !== undefined && p.remoteGroupId !== "") return { direction, cidr: undefined };
  return { direction, cidr: ANY_IPV4 };
}

function portOf(rule: PolicyResource): { protocol: unknown; from: unknown; to: unknown } {
  return { protocol: rule.props.protocol, from: rule.props.portRangeMin, to: rule.props.portRangeMax };
}

/**
 * The configured exception a rule implements, if any. An exception that lies
 * inside another environment's supernet is never honoured: exceptions are
 * for public ranges, not for reaching into a sibling environment.
 */
function matchingException(rule: PolicyResource, cidr: string, ctx: PolicyContext) {
  const { protocol, from, to } = portOf(rule);
  if (rule.props.direction !== "ingress") return undefined;
  return ctx.publicExceptions.find(
    (e) =>
      e.cidr === cidr &&
      e.protocol === protocol &&
      e.port === from &&
      e.port === to &&
      !foreignEnvironments(ctx).some((env) => cidrOverlaps(supernetOf(ctx, env), e.cidr)),
  );
}

const describeRule = (rule: PolicyResource, peer: RulePeer) => {
  const { protocol, from, to } = portOf(rule);
  const ports =
    from === undefined
      ? displayText(protocol ?? "any")
      : `${displayText(protocol)}/${from === to ? displayText(from) : `${displayText(from)}-${displayText(to)}`}`;
  return `${peer.direction} ${ports} ${peer.direction === "egress" ? "to" : "from"} ${peer.cidr}`;
};

const unreadableRule = (rule: PolicyResource) =>
  `remoteIpPrefix of ${rule.name} is not known at preview, so its source cannot be checked; use a CIDR from config or a remote group`;

const isRule = (r: PolicyResource) => r.type === TYPES.secGroupRule;

export const productionIsolation: ResourcePolicy = {
  kind: "resource",
  name: "production-admits-no-staging-or-test",
  control: "6.3/6.4",
  enforcement: "mandatory",
  description:
    "No production security-group rule admits a staging or test address, or 0.0.0.0/0, except a configured public exception.",
  remediation:
    "Remove the rule or narrow its CIDR to production's supernet or an admin range; a deliberate public opening is a named access.publicExceptions entry outside every other environment's supernet.",
  appliesTo: (r, ctx) => isRule(r) && ctx.environment === "production",
  validate: (rule, ctx) => {
    const peer = rulePeer(rule);
    if (peer.cidr === OPAQUE) return [unreadableRule(rule)];
    if (peer.cidr === undefined || cidrProblem(peer.cidr))
      return peer.cidr ? [`${rule.name}: "${peer.cidr}" is not a CIDR`] : [];
    const cidr = peer.cidr;
    const clashes = foreignEnvironments(ctx).filter((env) => cidrOverlaps(cidr, supernetOf(ctx, env)));
    const isAny = cidr === ANY_IPV4;
    if (clashes.length === 0 && !isAny) return [];
    if (matchingException(rule, cidr, ctx)) return [];
    const what = isAny
      ? "admits the whole internet, staging and test included"
      : `admits ${clashes.map((env) => `${env} (${supernetOf(ctx, env)})`).join(" and ")}`;
    return [`${rule.name}: ${describeRule(rule, peer)} ${what}, and no configured exception covers it`];
  },
};

export const sourcesWithinPlan: ResourcePolicy = {
  kind: "resource",
  name: "rule-sources-within-plan",
  control: "6.1",
  enforcement: "mandatory",
  description:
    "Every ingress rule's source lies within the environment's own address plan or its declared admin ranges (or is a configured exception).",
  remediation:
    "Use a remote group or a CIDR inside the environment's supernet; operator networks go into access.adminCidrs, anything wider into a named access.publicExceptions entry.",
  appliesTo: (r) => isRule(r) && r.props.direction === "ingress",
  validate: (rule, ctx) => {
    const peer = rulePeer(rule);
    if (peer.cidr === OPAQUE) return [unreadableRule(rule)];
    if (peer.cidr === undefined) return [];
    const cidr = peer.cidr;
    if (cidrProblem(cidr)) return [`${rule.name}: "${cidr}" is not a CIDR`];
    const allowed = [supernetOf(ctx), ...ctx.adminCidrs];
    if (allowed.some((range) => cidrContains(range, cidr))) return [];
    if (matchingException(rule, cidr, ctx)) return [];
    return [
      `${rule.name}: source ${cidr} lies outside ${ctx.environment}'s plan (${supernetOf(ctx)}) and its admin ranges (${ctx.adminCidrs.join(", ") || "none"})`,
    ];
  },
};

export const noForeignSupernet: ResourcePolicy = {
  kind: "resource",
  name: "no-rule-admits-another-environment",
  control: "6.5-testing",
  enforcement: "mandatory",
  description:
    "In every environment, no security-group rule (ingress or egress) reaches another environment's supernet; test and production stay apart.",
  remediation:
    "Narrow the rule so it overlaps no other environment's supernet in address-plan.yaml; egress is built from the plan with those supernets cut out.",
  appliesTo: isRule,
  validate: (rule, ctx) => {
    const peer = rulePeer(rule);
    if (peer.cidr === OPAQUE) return [unreadableRule(rule)];
    if (peer.cidr === undefined || cidrProblem(peer.cidr)) return [];
    const cidr = peer.cidr;
    const clashes = foreignEnvironments(ctx).filter((env) => cidrOverlaps(cidr, supernetOf(ctx, env)));
    if (clashes.length === 0 || matchingException(rule, cidr, ctx)) return [];
    return [
      `${rule.name}: ${describeRule(rule, peer)} overlaps ${clashes.map((env) => `${env}'s supernet ${supernetOf(ctx, env)}`).join(" and ")}`,
    ];
  },
};
