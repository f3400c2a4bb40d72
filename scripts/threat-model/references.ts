/**
 * The threat model's promise is that every path it lists names the test that
 * blocks it. These functions hold it to that: they read the `test` column of
 * every table under "## Paths" and match each named test against the unit
 * run's results, so a renamed, deleted, skipped or failing test shows up as
 * an unproven claim instead of a stale sentence auditors would trust.
 */

export interface TestReference {
  /** Repository-relative test file, e.g. `test/cidr.test.ts`. */
  file: string;
  /** The test's title as the threat model quotes it. */
  name: string;
}

export interface ThreatRow {
  section: string;
  path: string;
  references: TestReference[];
}

/** One assertion of vitest's JSON report, the fields matched on. */
export interface AssertionResult {
  title: string;
  fullName: string;
  ancestorTitles: string[];
  status: string;
}

export interface FileResult {
  /** Absolute path, as vitest reports it. */
  name: string;
  assertionResults: AssertionResult[];
}

// A code span: single backticks, or double ones around a title that holds a backtick.
const REFERENCE = /``\s?(test\/[^`›]+?\.test\.ts)\s*›\s*(.+?)\s?``|`(test\/[^`›]+?\.test\.ts)\s*›\s*([^`]+)`/g;

const cells = (line: string): string[] =>
  line
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());

/** Every row of every table under "## Paths", with the tests its `test` column names. */
export function threatRows(markdown: string): ThreatRow[] {
  const rows: ThreatRow[] = [];
  let inPaths = false;
  let section = "";
  let testColumn = -1;
  let pathColumn = 0;
  for (const line of markdown.split("\n")) {
    if (/^## /.test(line)) {
      inPaths = /^## Paths\b/.test(line);
      testColumn = -1;
      continue;
    }
    if (!inPaths) continue;
    if (/^### /.test(line)) {
      section = line.replace(/^###\s+/, "").trim();
      testColumn = -1;
      continue;
    }
    if (!line.trim().startsWith("|")) {
      testColumn = -1;
      continue;
    }
    const row = cells(line);
    if (testColumn < 0) {
      // A header row: find the columns by name.
      testColumn = row.findIndex((c) => c.toLowerCase() === "test");
      pathColumn = Math.max(
        0,
        row.findIndex((c) => c.toLowerCase() === "path"),
      );
      continue;
    }
    if (row.every((c) => /^:?-+:?$/.test(c))) continue;
    const cell = row[testColumn] ?? "";
    const references = [...cell.matchAll(REFERENCE)].map((m) => ({
      file: (m[1] ?? m[3])!.trim(),
      name: (m[2] ?? m[4])!.trim(),
    }));
    rows.push({ section, path: row[pathColumn] ?? "", references });
  }
  return rows;
}

/** True when `name` is the title the threat model quotes: the test's own title, its full name, or its title under its describe blocks. */
function matches(result: AssertionResult, name: string): boolean {
  const joined = [...result.ancestorTitles, result.title].join(" › ");
  return result.title === name || result.fullName === name || joined === name || joined.endsWith(` › ${name}`);
}

export type Unproven = { row: ThreatRow; reason: string };

/**
 * Rows that prove nothing: no test named, or a named test that did not pass
 * in this run (missing, renamed, skipped or failed). Integration tests run
 * later, in the integration tier; with that tier's JSON report
 * (`integrationResults`) they are held to the same rule as unit tests.
 * Without it, `integrationFile` says whether such a file exists and holds the
 * quoted title, which is all a unit-only run can check of them.
 */
export function unprovenRows(
  rows: readonly ThreatRow[],
  results: readonly FileResult[],
  integrationFile: (ref: TestReference) => boolean,
  integrationResults?: readonly FileResult[],
): Unproven[] {
  const unproven: Unproven[] = [];
  for (const row of rows) {
    if (row.references.length === 0) {
      unproven.push({ row, reason: "names no test" });
      continue;
    }
    for (const ref of row.references) {
      const integration = ref.file.startsWith("test/integration/");
      if (integration && !integrationResults) {
        if (!integrationFile(ref))
          unproven.push({ row, reason: `${ref.file} › ${ref.name}: no such integration test` });
        continue;
      }
      const file = (integration ? integrationResults! : results).find((f) =>
        f.name.replace(/\\/g, "/").endsWith(`/${ref.file}`),
      );
      if (!file) {
        unproven.push({ row, reason: `${ref.file}: not in this ${integration ? "integration" : "unit"} run` });
        continue;
      }
      const hits = file.assertionResults.filter((a) => matches(a, ref.name));
      if (hits.length === 0) unproven.push({ row, reason: `${ref.file} › ${ref.name}: no test of that name` });
      else if (!hits.some((a) => a.status === "passed"))
        unproven.push({ row, reason: `${ref.file} › ${ref.name}: ${hits[0]!.status}, not passed` });
    }
  }
  return unproven;
}
