/**
 * The gate on weakened controls, run by the trusted workflow
 * (.github/workflows/review-diff-comment.yml) from `main`'s code, never the
 * pull request's. It decides the `review-diff-gate` check and builds the
 * sticky comment from the review-diff artifact, which it reads as data.
 *
 *   node scripts/review-diff-gate.mts <facts.json> <artifact comment.md> <out dir>
 *
 * Writes <out>/decision.json ({conclusion, title, summary}) and
 * <out>/comment.md. No imports beyond Node's own: the trusted job runs it
 * with plain Node, so no dependency of the repository is installed or run
 * in a job that holds a write token.
 * See docs/decisions/review-diff-gate.md.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

export const GATE_CHECK = "review-diff-gate";
export const WEAKENS_LABEL = "weakens-control-approved";
export const COMMENT_MARKER = "<!-- ske-review-diff: sticky comment, updated in place -->";
/** GitHub refuses a comment body longer than this. */
export const COMMENT_LIMIT = 65536;
/** Repository roles that the team's grant (push) or more gives; read and triage are not the team. */
const TEAM_PERMISSIONS = new Set(["write", "maintain", "admin"]);
/**
 * Files that make up the review diff and the policies it reports. A pull
 * request that changes them computes its own diff with its own rules, so
 * that diff cannot vouch for it: it always needs the second look.
 */
export const MACHINERY = [
  /^\.github\//,
  /^synth\//,
  /^policy\//,
  /^scripts\/(diff|synth|run-ts|review-diff-gate)\b/,
  /^package(-lock)?\.json$/,
];

export interface GateFacts {
  pullRequest: { number: number; author: string; headSha: string };
  /** The review-diff run whose artifact this is; absent when none completed for the head commit. */
  diffRun?: { conclusion: string; headSha: string };
  /** `outcome.json` from the artifact: untrusted, validated here. */
  outcome?: unknown;
  files: string[];
  labels: string[];
  labelEvents: { event: string; label: string; actor: string }[];
  reviews: { user: string; state: string; commitId: string }[];
  /** Repository permission of each label actor and reviewer, as GitHub reports it. */
  permissions: Record<string, string>;
}

export interface GateDecision {
  conclusion: "success" | "failure";
  title: string;
  summary: string;
}

const OUTCOMES = new Set(["no-change", "changes", "weakens"]);

function diffOutcome(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const outcome = (value as Record<string, unknown>).outcome;
  return typeof outcome === "string" && OUTCOMES.has(outcome) ? outcome : undefined;
}

/** Approvers other than the author, with the team's permission, of exactly this head commit. */
function secondApprovers(facts: GateFacts): string[] {
  const latest = new Map<string, { state: string; commitId: string }>();
  for (const r of facts.reviews) {
    // Comments do not change a reviewer's verdict; approvals, change requests and dismissals do.
    if (r.state === "COMMENTED") continue;
    latest.set(r.user, r);
  }
  return [...latest.entries()]
    .filter(
      ([user, r]) =>
        r.state === "APPROVED" &&
        r.commitId === facts.pullRequest.headSha &&
        user !== facts.pullRequest.author &&
        TEAM_PERMISSIONS.has(facts.permissions[user] ?? ""),
    )
    .map(([user]) => user)
    .sort();
}

/** Who put the label on, if it is on now and that person is on the team and is not the author. */
function labelApprover(facts: GateFacts): string | undefined {
  if (!facts.labels.includes(WEAKENS_LABEL)) return undefined;
  const last = facts.labelEvents.filter((e) => e.event === "labeled" && e.label === WEAKENS_LABEL).at(-1);
  if (!last || last.actor === facts.pullRequest.author || !TEAM_PERMISSIONS.has(facts.permissions[last.actor] ?? ""))
    return undefined;
  return last.actor;
}

export function gateDecision(facts: GateFacts): GateDecision {
  const { headSha } = facts.pullRequest;
  if (!facts.diffRun || facts.diffRun.headSha !== headSha) {
    return {
      conclusion: "failure",
      title: "No review diff for this commit",
      summary: `No completed review-diff run for ${headSha}. The gate fails closed until one has run.`,
    };
  }
  const outcome = diffOutcome(facts.outcome);
  if (facts.diffRun.conclusion !== "success" || !outcome) {
    return {
      conclusion: "failure",
      title: "The review diff did not complete",
      summary: `The review-diff run ended with "${facts.diffRun.conclusion}"${outcome ? "" : " and left no valid outcome"}. Fix it and push again; the gate fails closed.`,
    };
  }
  const machinery = facts.files.filter((f) => MACHINERY.some((m) => m.test(f))).sort();
  const reasons = [
    ...(outcome === "weakens" ? ["the review diff says this change weakens a control or cannot be undone"] : []),
    ...(machinery.length
      ? [
          `it changes the review diff's own machinery (${machinery.slice(0, 5).join(", ")}${machinery.length > 5 ? ", …" : ""}), so its diff cannot vouch for it`,
        ]
      : []),
  ];
  if (reasons.length === 0) {
    return { conclusion: "success", title: "No control weakened", summary: `Review diff outcome: ${outcome}.` };
  }
  const labeller = labelApprover(facts);
  const approvers = secondApprovers(facts);
  if (labeller) {
    return {
      conclusion: "success",
      title: `Weakening accepted by ${labeller}`,
      summary: `Needs a second look because ${reasons.join("; and ")}. ${labeller}, a team member other than the author, added \`${WEAKENS_LABEL}\`.`,
    };
  }
  if (approvers.length >= 2) {
    return {
      conclusion: "success",
      title: `Weakening approved by ${approvers.join(" and ")}`,
      summary: `Needs a second look because ${reasons.join("; and ")}. ${approvers.join(" and ")} approved this commit.`,
    };
  }
  return {
    conclusion: "failure",
    title: "A change that weakens a control needs a second look",
    summary: `Needs a second look because ${reasons.join("; and ")}. A team member other than the author adds the label \`${WEAKENS_LABEL}\`, or two team members other than the author approve this commit (then re-run this check).`,
  };
}

/**
 * The sticky comment: the gate's own verdict first, then the artifact's
 * markdown as data. That markdown came from the pull request's code, so it
 * cannot forge the marker, notify anyone (@mentions are broken up), load
 * images, or push the body past GitHub's limit.
 */
export function commentBody(untrusted: string, decision: GateDecision, runUrl: string): string {
  const head = [
    COMMENT_MARKER,
    `**${GATE_CHECK}: ${decision.conclusion === "success" ? "✅" : "❌"} ${decision.title}.** ${decision.summary}`,
    "",
    `<sub>Below: the review diff as the pull request's own code computed it ([run and full artifact](${runUrl})). Read it as that code's claim, not as a verified fact.</sub>`,
    "",
    "---",
    "",
  ].join("\n");
  const cleaned = untrusted
    .replaceAll("<!--", "&lt;!--")
    .replace(/@(?=[A-Za-z0-9])/g, "@\u200b")
    .replace(/!\[/g, "!\\[");
  const cut = "\n\n… cut to fit GitHub's comment limit; see the artifact.";
  const room = COMMENT_LIMIT - head.length - cut.length - 16;
  return cleaned.length <= room ? `${head}${cleaned}` : `${head}${cleaned.slice(0, room)}${cut}`;
}

function main(argv: string[]): number {
  const [factsFile, commentFile, outDir] = argv;
  if (!factsFile || !commentFile || !outDir) {
    process.stderr.write("usage: node scripts/review-diff-gate.mts <facts.json> <comment.md> <out dir>\n");
    return 64;
  }
  const facts = JSON.parse(fs.readFileSync(factsFile, "utf8")) as GateFacts;
  const decision = gateDecision(facts);
  const untrusted = fs.existsSync(commentFile)
    ? fs.readFileSync(commentFile, "utf8").slice(0, 4 * COMMENT_LIMIT)
    : "(the review-diff run left no comment)";
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, "decision.json"), JSON.stringify(decision));
  fs.writeFileSync(path.join(outDir, "comment.md"), commentBody(untrusted, decision, process.env.RUN_URL ?? ""));
  process.stdout.write(`${decision.conclusion}: ${decision.title}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
