/**
 * The project-separation parts of compliance.md: every environment's
 * OpenStack projects (6.1) and what each bucket's policy denies (6.3 / 6.4).
 */
import { ENVIRONMENTS } from "../plan/address-plan";
import { grantsOutside, undeniedProjects } from "../plan/bucket-policy";
import { foreignProjects, placedProjects } from "../plan/project-plan";
import type { PolicyContext, PolicyResource } from "../policy/model";
import { OPAQUE } from "../policy/model";
import { bucketsOf, ownProjectIds } from "../policy/project-separation";
import { displayText } from "../plan/display-text";

const code = (text: string) => `\`${text}\``;
const esc = (text: string) => text.replace(/\|/g, "\\|");

export function projectLines(ctx: PolicyContext): string[] {
  const rows = ENVIRONMENTS.flatMap((env) =>
    Object.entries(ctx.projects.environments[env]).map(
      ([site, p]) =>
        `| ${env}${env === ctx.environment ? " (this stack)" : ""} | ${site} | ${esc(p.name)} | ${esc(p.domain)} | ${code(p.id)} |`,
    ),
  );
  const ids = placedProjects(ctx.projects);
  const shared = ids.filter((a) => ids.some((b) => b.environment !== a.environment && b.project.id === a.project.id));
  return [
    "OpenStack projects of every environment (openstack-projects.yaml); `pulumi preview` and `up` stop before any resource unless Keystone says the credentials are scoped to this stack's project in each site:",
    "",
    "| environment | site | project | domain | id |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
    shared.length === 0
      ? `- No project is shared between environments (${new Set(ids.map((p) => p.project.id)).size} distinct projects).`
      : `- SHARED between environments: ${shared.map((p) => `${p.environment}/${p.site} ${code(p.project.id)}`).join(", ")}.`,
    "",
  ];
}

export function bucketLines(ctx: PolicyContext, resources: readonly PolicyResource[]): string[] {
  const own = ownProjectIds(ctx);
  const foreign = foreignProjects(ctx.projects, ctx.environment);
  const rows = bucketsOf(resources).map((b) => {
    if (b.policy === undefined || b.policy === OPAQUE)
      return `| ${esc(b.bucket)} | ${b.policy === OPAQUE ? "unknown at preview" : "none"} | - | - |`;
    const undenied = new Set(
      undeniedProjects(
        b.policy,
        b.bucket,
        foreign.map((p) => p.project.id),
      ),
    );
    const denied = foreign.filter((p) => !undenied.has(p.project.id)).map((p) => `${p.environment}/${p.site}`);
    const grants = grantsOutside(b.policy, own);
    return `| ${esc(b.bucket)} | denies everything to ${denied.join(", ") || "nobody"}${undenied.size ? `; NOT denied: ${[...undenied].join(", ")}` : ""} | ${grants.length ? esc(grants.join("; ")) : "nothing outside the environment"} | ${b.acl === undefined ? "private (default)" : esc(displayText(b.acl))} |`;
  });
  return [
    `- The OpenStack API and object storage are the second channel: every run's credentials must be scoped to ${ctx.environment}'s own project in each site (table under 6.1), and every bucket keeps the other environments' projects out.`,
    "",
    "Buckets and their policies (an explicit Deny outranks any ACL or later grant):",
    "",
    ...(rows.length
      ? ["| bucket | bucket policy | grants | ACL |", "| --- | --- | --- | --- |", ...rows]
      : ["_(no bucket in this stack: the Kubernetes layer, which holds the audit archive, is off)_"]),
    "",
  ];
}
