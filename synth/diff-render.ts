/**
 * Prints a review diff for a terminal or as the body of the pull-request
 * comment. The comment must stay under GitHub's limit on a comment body
 * (65536 characters), so long lists collapse and, past a budget, details
 * give way to counts and a link to the full diff.
 */
import { flowChangeDiagram } from "./diagrams";
import {
  IRREVERSIBLE,
  verdictWord,
  type DiffOutcome,
  type InputChange,
  type ResourceChange,
  type StackDiff,
} from "./diff";

export const GITHUB_COMMENT_LIMIT = 65536;
/** The label that lets a change that weakens a control through the gate (docs/decisions/review-diff-gate.md). */
export const WEAKENS_LABEL = "weakens-control-approved";

const OUTCOME_TEXT: Record<DiffOutcome, string> = {
  "no-change": "no change",
  changes: "changes",
  weakens: "WEAKENS A CONTROL",
};

function short(value: unknown, max = 60): string {
  const text = value === undefined ? "(unset)" : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function describeChange(c: InputChange): string {
  switch (c.kind) {
    case "value":
      return `${c.path}: ${short(c.before)} -> ${short(c.after)}`;
    case "option":
      return `${c.path}: ${short(c.before)} -> ${short(c.after)}`;
    case "secret":
      return `${c.path}: changed (secret, value hidden)`;
    case "became-secret":
      return `${c.path}: now a secret`;
    case "no-longer-secret":
      return `${c.path}: NO LONGER A SECRET`;
  }
}

function operationText(r: ResourceChange): string {
  if (r.operation === "update") return "";
  return ` [${r.operation.toUpperCase()} forced by ${r.forcedBy.join(", ")}]`;
}

/** The weakenings other than irreversible operations, which get their own list, and how many those are. */
function weakeningsBesideIrreversible(diff: StackDiff): [StackDiff["weakenings"], number] {
  return [
    diff.weakenings.filter((w) => w.control !== IRREVERSIBLE),
    diff.weakenings.length - diff.weakenings.filter((w) => w.control !== IRREVERSIBLE).length,
  ];
}

function groupBy<T>(items: readonly T[], by: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(by(item), [...(out.get(by(item)) ?? []), item]);
  return new Map([...out.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/** The diff of one stack for a terminal. */
export function renderText(diff: StackDiff): string {
  const lines: string[] = [`== ${diff.environment}: ${OUTCOME_TEXT[diff.outcome]}`];
  for (const note of diff.notes) lines.push(`note: ${note}`);
  if (diff.outcome === "no-change") return lines.join("\n");
  if (diff.sites.added.length || diff.sites.removed.length) {
    lines.push(
      `Sites: ${[...diff.sites.added.map((s) => `+${s}`), ...diff.sites.removed.map((s) => `-${s}`)].join(" ")}`,
    );
  }
  const [listed, irreversibleCount] = weakeningsBesideIrreversible(diff);
  if (listed.length || irreversibleCount) {
    lines.push("", "Weakens a control:");
    for (const w of listed) lines.push(`  !! [${w.control}] ${w.message}`);
    if (irreversibleCount) lines.push(`  !! ${irreversibleCount} operations that cannot be undone (below)`);
  }
  if (diff.irreversible.length) {
    lines.push("", "Operations that cannot be undone:");
    for (const op of diff.irreversible) {
      lines.push(
        `  !! ${op.operation} ${op.type} ${op.name} (${op.what.join(", ")})${op.forcedBy.length ? ` forced by ${op.forcedBy.join(", ")}` : ""}`,
      );
    }
  }
  const sameVerdict = verdictWord(diff.compliance.before) === verdictWord(diff.compliance.after);
  lines.push(
    "",
    `Compliance: ${sameVerdict ? `verdict unchanged (${verdictWord(diff.compliance.after)})` : `VERDICT ${verdictWord(diff.compliance.before)} -> ${verdictWord(diff.compliance.after)}`}`,
  );
  lines.push(`  before: ${diff.compliance.before}`, `  after:  ${diff.compliance.after}`);
  for (const p of diff.compliance.policies)
    lines.push(`  ${p.weakens ? "!!" : "  "} ${p.name} (${p.control}): ${p.before} -> ${p.after}`);
  if (diff.secretConfig.length) {
    lines.push("", "Secret config (values never shown):");
    for (const s of diff.secretConfig) lines.push(`  ${s.key}: ${s.change}`);
  }
  if (diff.rules.length) {
    lines.push("", "Security groups:");
    for (const [site, rules] of groupBy(diff.rules, (r) => r.site)) {
      lines.push(`  ${site}:`);
      for (const r of rules) {
        const alarm = r.alarms.length ? `   <-- ${r.alarms.join("; ")}` : "";
        lines.push(
          `    ${r.change === "added" ? "+" : "-"} ${r.group} ${r.direction} ${r.direction === "ingress" ? "from" : "to"} ${r.peer} ${r.ports}${alarm}`,
        );
      }
    }
  }
  const { added, removed, changed } = diff.resources;
  lines.push("", `Resources: ${added.length} added, ${removed.length} removed, ${changed.length} changed`);
  const all = [
    ...added.map((r) => ({ ...r, line: `+ ${r.name}` })),
    ...removed.map((r) => ({ ...r, line: `- ${r.name}` })),
    ...changed.map((r) => ({
      ...r,
      line: `~ ${r.name}${operationText(r)}\n${r.changes.map((c) => `        ${describeChange(c)}`).join("\n")}`,
    })),
  ];
  for (const [type, items] of groupBy(all, (r) => r.type)) {
    lines.push(`  ${type}`);
    for (const [site, inSite] of groupBy(items, (r) => r.site)) {
      lines.push(`    ${site}:`);
      for (const item of inSite) lines.push(`      ${item.line}`);
    }
  }
  return lines.join("\n");
}

const esc = (text: string) => text.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const code = (text: string) => `\`${text.replace(/`/g, "'")}\``;

/** Folds a list behind <details> once it is longer than `open`. */
function fold(summary: string, body: string[], open = 8): string[] {
  if (body.length <= open) return [`**${summary}**`, "", ...body];
  return [`<details><summary>${summary}</summary>`, "", ...body, "", "</details>"];
}

type Detail = "full" | "compact";

function markdownStack(diff: StackDiff, detail: Detail): string[] {
  const head = `### ${diff.environment}: ${diff.outcome === "weakens" ? "⚠️ **weakens a control**" : OUTCOME_TEXT[diff.outcome]}`;
  const notes = diff.notes.map((n) => `> ${esc(n)}`);
  if (diff.outcome === "no-change") return [head, "", "No resource, rule or policy result changes.", ...notes];
  const out: string[] = [head, "", ...(notes.length ? [...notes, ""] : [])];
  const { added, removed, changed } = diff.resources;
  out.push(
    `${added.length} added, ${removed.length} removed, ${changed.length} changed (${changed.filter((c) => c.operation !== "update").length} replaced or rebuilt)` +
      (diff.sites.added.length || diff.sites.removed.length
        ? `; sites ${[...diff.sites.added.map((s) => `+${s}`), ...diff.sites.removed.map((s) => `−${s}`)].join(" ")}`
        : ""),
    "",
  );
  const [listed, irreversibleCount] = weakeningsBesideIrreversible(diff);
  if (listed.length || irreversibleCount) {
    out.push(
      ...fold(
        `Weakens a control (${diff.weakenings.length})`,
        [
          ...listed.map((w) => `- ❗ **${esc(w.control)}**: ${esc(w.message)}`),
          ...(irreversibleCount ? [`- ❗ **${irreversibleCount} operations that cannot be undone** (below)`] : []),
        ],
        15,
      ),
      "",
    );
  }
  if (diff.irreversible.length) {
    out.push(
      ...fold(
        `Operations that cannot be undone (${diff.irreversible.length})`,
        [
          "| operation | resource | why it matters | forced by |",
          "| --- | --- | --- | --- |",
          ...diff.irreversible.map(
            (op) =>
              `| **${op.operation}** | ${code(op.name)} | ${esc(op.what.join(", "))} | ${esc(op.forcedBy.join(", "))} |`,
          ),
        ],
        25,
      ),
      "",
    );
  }
  const sameVerdict = verdictWord(diff.compliance.before) === verdictWord(diff.compliance.after);
  out.push(
    sameVerdict && diff.compliance.policies.length === 0
      ? `**Compliance**: unchanged (${esc(verdictWord(diff.compliance.after))})`
      : `**Compliance**: ${sameVerdict ? "" : "⚠️ "}${esc(diff.compliance.before)} → ${esc(diff.compliance.after)}`,
    "",
  );
  if (diff.compliance.policies.length) {
    out.push(
      "| policy | control | before | after |",
      "| --- | --- | --- | --- |",
      ...diff.compliance.policies.map(
        (p) => `| ${p.weakens ? "❗ " : ""}${code(p.name)} | ${p.control} | ${p.before} | ${p.after} |`,
      ),
      "",
    );
  }
  if (diff.secretConfig.length) {
    out.push(
      `**Secret config** (values never shown): ${diff.secretConfig.map((s) => `${code(s.key)} ${s.change}`).join(", ")}`,
      "",
    );
  }
  if (diff.rules.length) {
    out.push("**Security groups**", "");
    for (const [site, rules] of groupBy(diff.rules, (r) => r.site)) {
      const alarming = rules.filter((r) => r.alarms.length && r.change === "added").length;
      const body = [
        "| | group | direction | peer | ports | |",
        "| --- | --- | --- | --- | --- | --- |",
        ...rules.map(
          (r) =>
            `| ${r.change === "added" ? "+" : "−"} | ${esc(r.group)} | ${r.direction} | ${esc(r.peer)} | ${esc(r.ports)} | ${r.alarms.length ? `${r.change === "added" ? "🚨 **" : "~~"}${esc(r.alarms.join("; "))}${r.change === "added" ? "**" : "~~"}` : ""} |`,
        ),
      ];
      const summary = `${site}: ${rules.filter((r) => r.change === "added").length} added, ${rules.filter((r) => r.change === "removed").length} removed${alarming ? `, 🚨 ${alarming} alarming` : ""}`;
      out.push(...(detail === "full" || alarming ? fold(summary, body, 12) : [`- ${summary}`]), "");
    }
  }
  // The compliance.md picture's changed edges: added green (red if it crosses an environment), removed grey and dashed.
  const flowPicture = flowChangeDiagram(diff.flows ?? [], detail === "full" ? 40 : 12);
  if (flowPicture)
    out.push(
      `**${flowPicture.title}**: green added, red crosses an environment, grey dashed removed`,
      "",
      "```mermaid",
      flowPicture.mermaid,
      "```",
      "",
    );
  const rows = [
    ...groupBy(
      [
        ...added.map((r) => ({ ...r, kind: "added" })),
        ...removed.map((r) => ({ ...r, kind: "removed" })),
        ...changed.map((r) => ({ ...r, kind: "changed" })),
      ],
      (r) => `${r.type}\u0000${r.site}`,
    ),
  ];
  if (rows.length) {
    out.push("**Resources by type and site**", "", "| type | site | + | − | ~ |", "| --- | --- | --- | --- | --- |");
    for (const [k, items] of rows) {
      const [type, site] = k.split("\u0000");
      const n = (kind: string) => items.filter((i) => i.kind === kind).length || "";
      out.push(`| ${code(type!)} | ${site} | ${n("added")} | ${n("removed")} | ${n("changed")} |`);
    }
    out.push("");
    if (detail === "full") {
      for (const [type, items] of groupBy(
        [
          ...added.map((r) => `+ ${r.name}`).map((line, i) => ({ type: added[i]!.type, line })),
          ...removed.map((r) => ({ type: r.type, line: `- ${r.name}` })),
          ...changed.map((r) => ({
            type: r.type,
            line: `~ ${r.name}${operationText(r)}\n${r.changes.map((c) => `    ${describeChange(c)}`).join("\n")}`,
          })),
        ],
        (i) => i.type,
      )) {
        out.push(
          `<details><summary>${code(type)} (${items.length})</summary>`,
          "",
          "```diff",
          ...items.map((i) => i.line.replace(/```/g, "'''")),
          "```",
          "",
          "</details>",
          "",
        );
      }
    }
  }
  return out;
}

/**
 * The pull-request comment for every stack. Tries full detail, then
 * compact, and as a last resort cuts the text: never over `limit`.
 */
export function renderMarkdown(
  diffs: readonly StackDiff[],
  options: { artifactUrl?: string; limit?: number } = {},
): string {
  const limit = options.limit ?? GITHUB_COMMENT_LIMIT - 1000; // room for the trusted job's marker and footer
  const weakened = diffs.some((d) => d.outcome === "weakens");
  const header = [
    "## Review diff (offline synth, no credentials)",
    "",
    weakened
      ? `⚠️ **This change weakens a control.** The \`review-diff-gate\` check fails until a team member other than the author adds the label \`${WEAKENS_LABEL}\`, or two team members other than the author approve.`
      : "No control is weakened.",
    "",
  ];
  const footer = [
    "",
    options.artifactUrl
      ? `Full diff: [review-diff artifact](${options.artifactUrl})`
      : "Full diff: the `review-diff` artifact of this run.",
  ];
  for (const detail of ["full", "compact"] as const) {
    const text = [...header, ...diffs.flatMap((d) => [...markdownStack(d, detail), ""]), ...footer].join("\n");
    if (text.length <= limit) return text;
  }
  const compact = [...header, ...diffs.flatMap((d) => [...markdownStack(d, "compact"), ""])].join("\n");
  const cut = "\n\n… cut to fit GitHub's comment limit.";
  const tail = footer.join("\n");
  return `${compact.slice(0, limit - cut.length - tail.length)}${cut}${tail}`;
}
