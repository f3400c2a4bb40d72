/**
 * The evidence report (`<out>/<env>/compliance.md`): per control, what
 * implements it, each policy's result, the Scorecard tier of the branch
 * protection and the security-group matrix, for reviewers and auditors.
 */
import { evidenceSummary, isControlPlaneApplyStep, stepNode } from "../policy/applied-evidence";
import type { BranchProtectionSettings } from "../plan/change-management";
import { assessBranchProtection } from "../plan/scorecard";
import type { PolicyResult } from "../policy/evaluate";
import {
  CONTROLS,
  at,
  typeChain,
  type ControlId,
  type PolicyContext,
  type PolicyResource,
  type StackOutput,
} from "../policy/model";
import { TYPES, isStatefulResource } from "../policy/policies";
import { bucketLines, projectLines } from "./compliance-projects";
import { backupLines } from "./compliance-backups";
import { bucketsOf } from "../policy/project-separation";
import { clusterApiLines } from "./compliance-cluster-api";
import { centralViewLines } from "./compliance-central-view";
import { CENTRAL_VIEW_POLICIES } from "../policy/central-view";
import { securityMatrix } from "./summary";
import { deployRunnerComplianceLines } from "./deploy-runner-reach";
import type { RecordedResource } from "./mock-runtime";
import { complianceDiagrams, diagramLines } from "./diagrams";
import { displayText } from "../plan/display-text";

const esc = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
const code = (text: string) => `\`${text}\``;

function table(header: string[], rows: string[][]): string[] {
  if (rows.length === 0) return ["_(none)_"];
  return [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ];
}

const STATUS_TEXT = { pass: "PASS", fail: "FAIL", advisory: "ADVISORY", "not-applicable": "n/a" } as const;

function policyTable(results: readonly PolicyResult[]): string[] {
  const rows = results.map((r) => [
    code(r.name),
    r.enforcement,
    STATUS_TEXT[r.status],
    r.violations.length
      ? r.violations.map((v) => v.message).join("; ")
      : r.checked
        ? `${r.checked.length} resources checked`
        : "stack checked",
  ]);
  const lines = table(["policy", "level", "result", "details"], rows);
  const failing = results.filter((r) => r.violations.length > 0);
  for (const r of failing) lines.push("", `Remediation for ${code(r.name)}: ${r.remediation}`);
  return lines;
}

/** The ruleset in the terms the Scorecard assessment reads. */
export function rulesetSettings(ruleset: PolicyResource, hasCodeOwnersFile: boolean): BranchProtectionSettings {
  const p = ruleset.props;
  const pr = at(p, ["rules", "pullRequest"]) as Record<string, unknown> | undefined;
  const checks =
    (at(p, ["rules", "requiredStatusChecks", "requiredChecks"]) as { context: string }[] | undefined) ?? [];
  return {
    branch: "main",
    requirePullRequest: pr !== undefined,
    requiredApprovals: Number(pr?.requiredApprovingReviewCount ?? 0),
    requireCodeOwnerReview: pr?.requireCodeOwnerReview === true,
    hasCodeOwnersFile,
    requireLastPushApproval: pr?.requireLastPushApproval === true,
    dismissStaleReviews: pr?.dismissStaleReviewsOnPush === true,
    requireConversationResolution: pr?.requiredReviewThreadResolution === true,
    requiredStatusChecks: checks.map((c) => c.context),
    requireUpToDateBranch: at(p, ["rules", "requiredStatusChecks", "strictRequiredStatusChecksPolicy"]) === true,
    blockForcePush: at(p, ["rules", "nonFastForward"]) === true,
    blockDeletion: at(p, ["rules", "deletion"]) === true,
    enforceForAdmins: Array.isArray(p.bypassActors) && p.bypassActors.length === 0,
  };
}

/**
 * The archive's writers as the reconciler's bucket policy grants them, and
 * what the last run read back from RGW (offline synth reads nothing, and
 * says so rather than repeating the configured lock).
 */
function archiveEvidence(resources: readonly PolicyResource[], outputs: readonly StackOutput[]): string[] {
  const reconcile = resources.find(
    (r) =>
      r.type === "command:local:Command" &&
      displayText(r.props.create ?? "").includes("audit-archive-bucket") &&
      !typeChain(r).includes("ske:backup:EtcdBackupBucket"),
  );
  if (!reconcile) return [];
  // The document the reconciler sets, read as both policies read it.
  const policy = bucketsOf([reconcile])[0]?.policy as { Statement?: unknown } | undefined;
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : [String(v)]);
  const rows: string[][] = Array.isArray(policy?.Statement)
    ? (
        policy.Statement as {
          Effect: string;
          Principal: unknown;
          Action: unknown;
          Resource: unknown;
          NotResource?: unknown;
        }[]
      ).map((st) => [
        st.Effect,
        st.Principal === "*" ? "*" : list((st.Principal as { AWS?: unknown } | undefined)?.AWS).join(", "),
        list(st.Action).join(", "),
        st.NotResource !== undefined ? `all but ${list(st.NotResource).join(", ")}` : list(st.Resource).join(", "),
      ])
    : [["?", "not readable", "", ""]];
  const readBack = outputs
    .filter((o) => o.path.startsWith("gitops.auditArchive.readBack."))
    .map((o) => `${code(o.path.replace("gitops.auditArchive.readBack.", ""))} ${JSON.stringify(o.value)}`);
  return [
    "Archive bucket policy, one document (each collector writes as its own Keystone project; the deploy identity owns the bucket and is never a writer; every other environment's project is denied everything):",
    "",
    ...table(["effect", "principal", "actions", "resources"], rows),
    "",
    `Archive object lock and policy as read back from RGW by this run: ${readBack.join(", ") || "no read-back output"}.`,
    "",
  ];
}

export interface ComplianceReportInput {
  ctx: PolicyContext;
  results: readonly PolicyResult[];
  resources: readonly PolicyResource[];
  recorded: readonly RecordedResource[];
  outputs: readonly StackOutput[];
  sites: readonly string[];
}

export function renderComplianceReport(input: ComplianceReportInput): string {
  const { ctx, results, resources, recorded, outputs, sites } = input;
  const env = ctx.environment;
  const of = (type: string) => resources.filter((r) => r.type === type);
  const forControl = (control: ControlId) => results.filter((r) => r.control === control);
  const failed = results.filter((r) => r.status === "fail");
  const lines: string[] = [
    `# Compliance evidence: ${env}`,
    "",
    `Generated by \`npm run synth -- --stack ${env}\` from the resources the program registers under mocks; the same policies run in \`pulumi preview --policy-pack policy\`.`,
    "",
    failed.length === 0
      ? `**Verdict: PASS.** No mandatory policy is violated (${results.filter((r) => r.status === "advisory").length} advisory findings).`
      : `**Verdict: FAIL.** Mandatory violations of ${failed.map((r) => `control ${r.control} (${code(r.name)})`).join(", ")}.`,
    "",
  ];
  // Pictures drawn from the same resources as the tables: the change path under 6.2, separation and flows under 6.3 / 6.4.
  const diagrams = complianceDiagrams(recorded, { ...ctx, sites }, results);
  const changePath = diagrams.slice(-1);
  const networkDiagrams = diagrams.slice(0, -1);

  // 6.1
  const clusters = recorded.filter((r) => r.type === "ske:cluster:Cluster").map((r) => r.name);
  const projects = of(TYPES.appProject).map((p) => [
    p.name,
    ((at(p.props, ["spec", "destinations"]) as { server?: string }[] | undefined) ?? [])
      .map((d) => String(d.server))
      .join(", "),
  ]);
  lines.push(
    `## ${CONTROLS["6.1"]}`,
    "",
    "Implemented by:",
    "",
    `- Address plan: ${env} owns ${code(ctx.addressPlan.environments[env].supernet)}; sites ${Object.entries(
      ctx.addressPlan.environments[env].sites,
    )
      .map(([s, c]) => `${s} ${code(c)}`)
      .join(", ")}.`,
    `- Clusters of this stack: ${clusters.length ? clusters.map(code).join(", ") : "none (clusters layer off)"}.`,
    `- Admin ranges: ${ctx.adminCidrs.map(code).join(", ") || "none"}; public exceptions: ${ctx.publicExceptions.map((e) => `${e.name} ${e.protocol}/${e.port} from ${e.cidr}`).join(", ") || "none"}.`,
    "",
    ...projectLines(ctx),
    ...clusterApiLines(ctx, resources),
    "Argo CD projects and their destinations:",
    "",
    ...table(["AppProject", "destinations"], projects),
    "",
    "Policies:",
    "",
    ...policyTable(forControl("6.1")),
    "",
  );

  // 6.2
  const codeOwners = new Set(
    of(TYPES.repositoryFile)
      .filter((f) => String(f.props.file).endsWith("CODEOWNERS"))
      .map((f) => String(f.props.repository)),
  );
  const rulesetRows = of(TYPES.ruleset).map((r) => {
    const settings = rulesetSettings(r, codeOwners.has(String(r.props.repository)));
    const score = assessBranchProtection(settings);
    return [
      String(r.props.repository),
      `${settings.requiredApprovals} approval(s), code owners ${settings.requireCodeOwnerReview}, last-push approval ${settings.requireLastPushApproval}, force push blocked ${settings.blockForcePush}, deletion blocked ${settings.blockDeletion}, bypass actors ${settings.enforceForAdmins ? "none" : "present"}`,
      `tier ${score.tier}, score ${score.score}/10`,
      score.unmet.map((u) => `T${u.tier}: ${u.description}`).join("; ") || "none",
    ];
  });
  const argo = of(TYPES.helmRelease)
    .filter((r) => r.props.chart === "argo-cd")
    .map((r) => [
      r.name,
      `server.service.type ${String(at(r.props, ["values", "server", "service", "type"]))}, ingress ${displayText(at(r.props, ["values", "server", "ingress", "enabled"]) ?? false)}`,
    ]);
  const protectedRows = resources
    .filter((r) => isStatefulResource(r))
    .map((r) => [r.name, `protect ${r.opts?.protect}, retainOnDelete ${r.opts?.retainOnDelete}`]);
  lines.push(
    `## ${CONTROLS["6.2"]}`,
    "",
    "Branch protection of main (RepositoryRuleset) and its OpenSSF Scorecard Branch-Protection tier:",
    "",
    ...(of(TYPES.ruleset).length || ctx.ownsRepositorySettings
      ? table(["repository", "settings", "Scorecard", "unmet criteria"], rulesetRows)
      : [`_${env} does not own the repository settings; the owning stack's report shows them._`]),
    "",
    ...diagramLines(changePath),
    "Argo CD (the only path from Git to the clusters):",
    "",
    ...table(["release", "exposure"], argo),
    "",
    `Stateful resources and their protection (${protectedRows.length}):`,
    "",
    ...table(["resource", "options"], protectedRows),
    "",
    ...backupLines(resources),
    "Policies:",
    "",
    ...policyTable(forControl("6.2")),
    "",
  );

  // 6.3 / 6.4
  const matrix = securityMatrix(recorded, env, sites);
  const ingress = matrix
    .filter((m) => m.direction === "ingress")
    .sort((a, b) => a.site.localeCompare(b.site) || a.group.localeCompare(b.group) || a.source.localeCompare(b.source));
  const egress = matrix.filter((m) => m.direction === "egress");
  lines.push(
    `## ${CONTROLS["6.3/6.4"]}`,
    "",
    "Diagrams generated from the registered rules below and the policy results; a flow into another environment would be drawn red, and the verdict would fail.",
    "",
    ...diagramLines(networkDiagrams),
  );
  lines.push(
    "No data masking is done, so the network makes the transfer impossible. Security-group matrix (ingress; every group starts empty):",
    "",
    ...table(
      ["site", "group", "source", "ports"],
      ingress.map((m) => [m.site, m.group, m.source, m.ports.join(" ")]),
    ),
    "",
    ...sites.map(
      (site) =>
        `- Egress of ${site}: ${
          egress
            .filter((m) => m.site === site)
            .map((m) => m.source)
            .join(", ") || "none"
        } (every other environment's supernet cut out).`,
    ),
    "",
    ...deployRunnerComplianceLines(
      recorded,
      env,
      sites,
      Object.entries(ctx.addressPlan.environments)
        .filter(([name]) => name !== env)
        .map(([, e]) => e.supernet),
    ),
    "",
    ...bucketLines(ctx, resources),
    "Policies:",
    "",
    ...policyTable(forControl("6.3/6.4")),
    "",
  );

  // 6.5 audit
  // Evidence from each control plane's apply-config step: it changes only once the node runs the config (policy/applied-evidence.ts).
  const nodes = resources
    .filter(isControlPlaneApplyStep)
    .map((step) => [stepNode(step), evidenceSummary(step)] as const);
  const auditorBindings = [...of(TYPES.clusterRoleBinding), ...of(TYPES.roleBinding)]
    .filter((b) =>
      ((b.props.subjects as { name?: string }[] | undefined) ?? []).some(
        (s) => s.name === ctx.auditors.kubernetesGroup,
      ),
    )
    .map((b) => [b.name, String(at(b.props, ["roleRef", "name"]))]);
  const collectors = of(TYPES.helmRelease)
    .filter((r) => r.props.chart === "vector")
    .map((r) => [
      r.name,
      Object.keys((at(r.props, ["values", "customConfig", "sinks"]) as object | undefined) ?? {}).join(", "),
    ]);
  lines.push(
    `## ${CONTROLS["6.5-audit"]}`,
    "",
    "API server audit policy and OIDC that each control-plane node runs, as recorded by its last successful apply-config step (a preview or synth shows the state after the roll-out succeeds):",
    "",
    ...table(
      ["control-plane node", "settings"],
      nodes.map(([n, s]) => [n, s]),
    ),
    "",
    "Auditor bindings:",
    "",
    ...table(["binding", "role"], auditorBindings),
    "",
    "Audit collectors and their sinks (append-only archive, SIEM when configured):",
    "",
    ...table(["release", "sinks"], collectors),
    "",
    ...archiveEvidence(resources, outputs),
    `Stack outputs: ${outputs.filter((o) => o.secret).length} secret, ${outputs.filter((o) => o.secret === false).length} plain; secret: ${
      outputs
        .filter((o) => o.secret)
        .map((o) => code(o.path))
        .join(", ") || "none"
    }.`,
    "",
    "Policies:",
    "",
    ...policyTable(forControl("6.5-audit")),
    "",
  );

  // 6.5 testing
  lines.push(
    `## ${CONTROLS["6.5-testing"]}`,
    "",
    `- ${env} must not reach ${Object.entries(ctx.addressPlan.environments)
      .filter(([name]) => name !== env)
      .map(([name, e]) => `${name} ${code(e.supernet)}`)
      .join(", ")}; the security-group matrix is in the 6.3 / 6.4 section.`,
    `- Test clusters are tagged ${code("environment:test")} and use synthetic data only (advisory check, test stack).`,
    "",
    "Policies:",
    "",
    ...policyTable(forControl("6.5-testing")),
    "",
  );
  const centralViewPolicies = new Set<string>(CENTRAL_VIEW_POLICIES.map((p) => p.name));
  lines.push(...centralViewLines(resources, policyTable(results.filter((r) => centralViewPolicies.has(r.name)))));
  return lines.join("\n");
}
