import { describe, expect, it } from "vitest";
import { threatRows, unprovenRows, type FileResult } from "../scripts/threat-model/references";

const doc = (rows: string) => `# Threat model

## Actors

| actor | test |
| --- | --- |
| someone | not a path table: ignored |

## Paths

### Area

| path | blocked by | test |
| --- | --- | --- |
${rows}

## Residual risk: what one person can still do alone

- not parsed
`;

const results: FileResult[] = [
  {
    name: "/repo/test/a.test.ts",
    assertionResults: [
      { title: "blocks the path", fullName: "group blocks the path", ancestorTitles: ["group"], status: "passed" },
      { title: "`npm run x` exits 64", fullName: "`npm run x` exits 64", ancestorTitles: [], status: "passed" },
      { title: "was skipped", fullName: "was skipped", ancestorTitles: [], status: "skipped" },
    ],
  },
];
const noIntegration = () => false;

describe("the threat model's test references", () => {
  it("reads only the tables under Paths, with the tests each row names, backticks in titles included", () => {
    const rows = threatRows(
      doc(
        "| p1 | b | `test/a.test.ts › blocks the path`; `` test/a.test.ts › `npm run x` exits 64 `` |\n| p2 \\| with a pipe | b | none |",
      ),
    );
    expect(rows).toEqual([
      {
        section: "Area",
        path: "p1",
        references: [
          { file: "test/a.test.ts", name: "blocks the path" },
          { file: "test/a.test.ts", name: "`npm run x` exits 64" },
        ],
      },
      { section: "Area", path: "p2 \\| with a pipe", references: [] },
    ]);
  });

  it("accepts a row whose named tests passed, by title or by describe path", () => {
    const rows = threatRows(
      doc("| p | b | `test/a.test.ts › blocks the path`; `test/a.test.ts › group › blocks the path` |"),
    );
    expect(unprovenRows(rows, results, noIntegration)).toEqual([]);
  });

  it("refuses a row that names no test, a missing, renamed or skipped test, or a file that did not run", () => {
    const rows = threatRows(
      doc(
        [
          "| none | b | see residual risk |",
          "| renamed | b | `test/a.test.ts › blocks the path now` |",
          "| skipped | b | `test/a.test.ts › was skipped` |",
          "| gone | b | `test/b.test.ts › anything` |",
        ].join("\n"),
      ),
    );
    expect(unprovenRows(rows, results, noIntegration).map((u) => `${u.row.path}: ${u.reason}`)).toEqual([
      "none: names no test",
      "renamed: test/a.test.ts › blocks the path now: no test of that name",
      "skipped: test/a.test.ts › was skipped: skipped, not passed",
      "gone: test/b.test.ts: not in this unit run",
    ]);
  });

  it("checks integration tests by their file, since they run in another job", () => {
    const rows = threatRows(doc("| lab | b | `test/integration/x.test.ts › refuses the wrong project` |"));
    expect(unprovenRows(rows, [], () => true)).toEqual([]);
    expect(unprovenRows(rows, [], () => false).map((u) => u.reason)).toEqual([
      "test/integration/x.test.ts › refuses the wrong project: no such integration test",
    ]);
  });

  it("with the integration run's report, holds integration tests to the same rule: passed in that run", () => {
    const rows = threatRows(
      doc(
        [
          "| passed | b | `test/integration/x.test.ts › refuses the wrong project` |",
          "| skipped | b | `test/integration/x.test.ts › was skipped` |",
          "| gone | b | `test/integration/y.test.ts › anything` |",
        ].join("\n"),
      ),
    );
    const integration: FileResult[] = [
      {
        name: "/repo/test/integration/x.test.ts",
        assertionResults: [
          {
            title: "refuses the wrong project",
            fullName: "suite refuses the wrong project",
            ancestorTitles: ["suite"],
            status: "passed",
          },
          { title: "was skipped", fullName: "was skipped", ancestorTitles: [], status: "skipped" },
        ],
      },
    ];
    // The file check alone would accept all three: the report is what decides.
    expect(unprovenRows(rows, [], () => true, integration).map((u) => `${u.row.path}: ${u.reason}`)).toEqual([
      "skipped: test/integration/x.test.ts › was skipped: skipped, not passed",
      "gone: test/integration/y.test.ts: not in this integration run",
    ]);
  });
});
