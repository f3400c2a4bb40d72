/**
 * `node scripts/run-ts.cjs scripts/threat-model/check.ts <vitest-json> [<integration-vitest-json>]`:
 * fails when a path in docs/threat-model.md names no test, or names one that
 * did not pass in the unit run whose JSON report is given. .ci/run runs it
 * right after `npm test`, and again after the integration tests with their
 * report (test/integration/run.sh, SKE_INTEGRATION_REPORT), when the named
 * integration tests must have passed too.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT as root } from "../../config/load";
import { threatRows, unprovenRows, type FileResult } from "./references";

const report = process.argv[2];
if (!report) {
  process.stderr.write("usage: check.ts <vitest JSON report>\n");
  process.exit(64);
}
const rows = threatRows(fs.readFileSync(path.join(root, "docs", "threat-model.md"), "utf8"));
const results = (JSON.parse(fs.readFileSync(report, "utf8")) as { testResults: FileResult[] }).testResults;
const integrationReport = process.argv[3];
const integrationResults = integrationReport
  ? (JSON.parse(fs.readFileSync(integrationReport, "utf8")) as { testResults: FileResult[] }).testResults
  : undefined;
const unproven = unprovenRows(
  rows,
  results,
  (ref) => {
    const file = path.join(root, ref.file);
    return fs.existsSync(file) && fs.readFileSync(file, "utf8").includes(ref.name);
  },
  integrationResults,
);
for (const { row, reason } of unproven) {
  process.stderr.write(`threat model, ${row.section}: "${row.path.slice(0, 100)}": ${reason}\n`);
}
const references = rows.reduce((n, r) => n + r.references.length, 0);
process.stdout.write(`threat model: ${rows.length} paths, ${references} named tests, ${unproven.length} unproven\n`);
process.exit(unproven.length > 0 ? 1 : 0);
