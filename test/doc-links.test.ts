/**
 * Every relative link in README.md and docs/**\/*.md (and the other Markdown
 * files the README sends readers to) must point at a file that exists, and a
 * `#fragment` at a heading of that file. Docs are split across many files;
 * a move or rename that leaves a link behind fails here.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../config/load";

function markdownFiles(dir: string): string[] {
  return fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(rel);
    return entry.name.endsWith(".md") ? [rel] : [];
  });
}

const DOCS = [
  "README.md",
  "policy/README.md",
  "test/integration/README.md",
  "scripts/toolchain/providers/README.md",
  ...markdownFiles("docs"),
].filter((f) => fs.existsSync(path.join(REPO_ROOT, f)));

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = heading[1]!
      .replace(/<[^>]*>/g, "")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Inline links and images, outside code fences and code spans: `[text](target)`. */
export function relativeLinks(markdown: string): string[] {
  const links: string[] = [];
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (fenced) continue;
    const prose = line.replace(/`[^`]*`/g, "");
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …
      links.push(target);
    }
  }
  return links;
}

function brokenLinks(file: string): string[] {
  const text = fs.readFileSync(path.join(REPO_ROOT, file), "utf8");
  return relativeLinks(text).flatMap((link) => {
    const [target, fragment] = link.split("#", 2) as [string, string | undefined];
    const resolved =
      target === ""
        ? path.join(REPO_ROOT, file)
        : path.resolve(path.dirname(path.join(REPO_ROOT, file)), decodeURIComponent(target));
    if (!resolved.startsWith(REPO_ROOT) || !fs.existsSync(resolved)) return [`${link}: no such file`];
    if (
      fragment &&
      resolved.endsWith(".md") &&
      !headingAnchors(fs.readFileSync(resolved, "utf8")).has(fragment.toLowerCase())
    ) {
      return [`${link}: no heading #${fragment} in ${path.relative(REPO_ROOT, resolved)}`];
    }
    return [];
  });
}

/**
 * Repository paths a document names in prose or code spans (`policy/model.ts`,
 * docs/decisions/preflight.md), not as links; globs (`scripts/diff*`) and
 * placeholders (`Pulumi.<env>.yaml`) are left out.
 */
export function namedRepoPaths(markdown: string): string[] {
  const found = markdown.matchAll(
    /(?<![\w./<-])((?:config|plan|components|stacks|policy|synth|scripts|test|docs|\.github|\.ci)\/[\w./-]*\w)(?![\w*<>-])/g,
  );
  return [...new Set([...found].map((m) => m[1]!))];
}

describe("relative links in the docs", () => {
  it("finds the README and the docs", () => {
    expect(DOCS).toContain("README.md");
    expect(DOCS.filter((f) => f.startsWith("docs/")).length).toBeGreaterThan(10);
  });

  it.each(DOCS)("every relative link in %s points at a file (and heading) that exists", (file) => {
    expect(brokenLinks(file)).toEqual([]);
  });

  it.each(DOCS)("every repository path %s names exists", (file) => {
    const named = namedRepoPaths(fs.readFileSync(path.join(REPO_ROOT, file), "utf8"));
    expect(named.filter((p) => !fs.existsSync(path.join(REPO_ROOT, p)))).toEqual([]);
  });

  it.each(["docs/decisions", "docs/operations"])("%s/README.md links every document in its folder", (dir) => {
    const index = new Set(
      relativeLinks(fs.readFileSync(path.join(REPO_ROOT, dir, "README.md"), "utf8")).map((l) => l.split("#")[0]),
    );
    const documents = fs.readdirSync(path.join(REPO_ROOT, dir)).filter((f) => f.endsWith(".md") && f !== "README.md");
    expect(documents.filter((f) => !index.has(f))).toEqual([]);
  });

  it("would catch a link to a missing file or heading", () => {
    const sample = "[a](docs/missing.md) [b](README.md#no-such-heading) `[c](ignored.md)` [d](https://example.net)";
    expect(relativeLinks(sample)).toEqual(["docs/missing.md", "README.md#no-such-heading"]);
    expect(headingAnchors("# The 6.2 section: rulesets\n## Again\n## Again")).toEqual(
      new Set(["the-62-section-rulesets", "again", "again-1"]),
    );
    expect(
      namedRepoPaths("see `policy/model.ts`, docs/gone.md and scripts/diff* or Pulumi.<env>.yaml, not stacks/<env>.ts"),
    ).toEqual(["policy/model.ts", "docs/gone.md"]);
  });
});
