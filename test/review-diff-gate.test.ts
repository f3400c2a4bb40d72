import { describe, expect, it } from "vitest";
import {
  COMMENT_LIMIT,
  COMMENT_MARKER,
  commentBody,
  gateDecision,
  WEAKENS_LABEL,
  type GateFacts,
} from "../scripts/review-diff-gate.mjs";

const HEAD = "a".repeat(40);

function facts(extra: Partial<GateFacts> = {}): GateFacts {
  return {
    pullRequest: { number: 7, author: "alice", headSha: HEAD },
    diffRun: { conclusion: "success", headSha: HEAD },
    outcome: { outcome: "weakens" },
    files: ["Pulumi.production.yaml"],
    labels: [],
    labelEvents: [],
    reviews: [],
    permissions: { bob: "write", carol: "admin", alice: "admin", dave: "read" },
    ...extra,
  };
}
const labelled = (actor: string): Partial<GateFacts> => ({
  labels: [WEAKENS_LABEL],
  labelEvents: [{ event: "labeled", label: WEAKENS_LABEL, actor }],
});
const approved = (...users: string[]) => users.map((user) => ({ user, state: "APPROVED", commitId: HEAD }));

describe("the review-diff gate", () => {
  it("passes a change that weakens nothing and touches no machinery", () => {
    expect(gateDecision(facts({ outcome: { outcome: "changes" } })).conclusion).toBe("success");
    expect(gateDecision(facts({ outcome: { outcome: "no-change" } })).conclusion).toBe("success");
  });

  it("fails a change that weakens a control until someone acts", () => {
    const d = gateDecision(facts());
    expect(d).toMatchObject({ conclusion: "failure", title: "A change that weakens a control needs a second look" });
    expect(d.summary).toContain(WEAKENS_LABEL);
  });

  it("passes it once a team member other than the author adds the label", () => {
    expect(gateDecision(facts(labelled("bob")))).toMatchObject({
      conclusion: "success",
      title: "Weakening accepted by bob",
    });
  });

  it("does not count the label when the author, or someone outside the team, added it, or it was taken off", () => {
    expect(gateDecision(facts(labelled("alice"))).conclusion).toBe("failure");
    expect(gateDecision(facts(labelled("dave"))).conclusion).toBe("failure");
    expect(gateDecision(facts(labelled("mallory"))).conclusion).toBe("failure");
    expect(gateDecision(facts({ ...labelled("bob"), labels: [] })).conclusion).toBe("failure");
    // The last one to label counts: the author re-adding it after a team member's does not pass.
    expect(
      gateDecision(
        facts({
          labels: [WEAKENS_LABEL],
          labelEvents: [
            { event: "labeled", label: WEAKENS_LABEL, actor: "bob" },
            { event: "unlabeled", label: WEAKENS_LABEL, actor: "bob" },
            { event: "labeled", label: WEAKENS_LABEL, actor: "alice" },
          ],
        }),
      ).conclusion,
    ).toBe("failure");
  });

  it("passes on two approvals of this commit by team members other than the author, not on one", () => {
    expect(gateDecision(facts({ reviews: approved("bob") })).conclusion).toBe("failure");
    expect(gateDecision(facts({ reviews: approved("bob", "carol") }))).toMatchObject({
      conclusion: "success",
      title: "Weakening approved by bob and carol",
    });
    expect(gateDecision(facts({ reviews: approved("bob", "alice") })).conclusion).toBe("failure");
    expect(gateDecision(facts({ reviews: approved("bob", "dave") })).conclusion).toBe("failure");
    const stale = [...approved("bob"), { user: "carol", state: "APPROVED", commitId: "b".repeat(40) }];
    expect(gateDecision(facts({ reviews: stale })).conclusion).toBe("failure");
    const retracted = [...approved("bob", "carol"), { user: "carol", state: "CHANGES_REQUESTED", commitId: HEAD }];
    expect(gateDecision(facts({ reviews: retracted })).conclusion).toBe("failure");
  });

  it("treats a change to the diff's own machinery as needing the second look, whatever its diff says", () => {
    const d = gateDecision(
      facts({ outcome: { outcome: "no-change" }, files: ["synth/diff.ts", ".github/workflows/review-diff.yml"] }),
    );
    expect(d.conclusion).toBe("failure");
    expect(d.summary).toContain(".github/workflows/review-diff.yml, synth/diff.ts");
    expect(gateDecision(facts({ outcome: { outcome: "no-change" }, files: ["package-lock.json"] })).conclusion).toBe(
      "failure",
    );
  });

  it("fails closed when the diff did not run for this commit, failed, or left no valid outcome", () => {
    expect(gateDecision(facts({ diffRun: undefined })).conclusion).toBe("failure");
    expect(
      gateDecision(facts({ ...labelled("bob"), diffRun: { conclusion: "success", headSha: "b".repeat(40) } }))
        .conclusion,
    ).toBe("failure");
    expect(
      gateDecision(facts({ ...labelled("bob"), diffRun: { conclusion: "failure", headSha: HEAD } })).conclusion,
    ).toBe("failure");
    expect(gateDecision(facts({ outcome: { outcome: "fine, trust me" } })).conclusion).toBe("failure");
    expect(gateDecision(facts({ outcome: "no-change" })).conclusion).toBe("failure");
  });
});

describe("the sticky comment", () => {
  const decision = { conclusion: "failure" as const, title: "t", summary: "s" };

  it("starts with the marker and the gate's own verdict, before the artifact's text", () => {
    const body = commentBody("## Review diff", decision, "https://github.com/o/r/actions/runs/1");
    expect(body.startsWith(`${COMMENT_MARKER}\n**review-diff-gate: ❌ t.** s`)).toBe(true);
    expect(body.endsWith("## Review diff")).toBe(true);
  });

  it("keeps the artifact's text from forging the marker, mentioning people or loading images", () => {
    const body = commentBody(`${COMMENT_MARKER}\n@org/team look ![x](https://tracker.example/p.png)`, decision, "u");
    expect(body.indexOf(COMMENT_MARKER)).toBe(0);
    expect(body.lastIndexOf(COMMENT_MARKER)).toBe(0);
    expect(body).not.toMatch(/@org/);
    expect(body).not.toContain("![x]");
  });

  it("never exceeds GitHub's comment limit", () => {
    expect(commentBody("x".repeat(300_000), decision, "u").length).toBeLessThanOrEqual(COMMENT_LIMIT);
  });
});
