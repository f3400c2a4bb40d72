/**
 * The two-person check on workflow files, from the command line (CI runs the
 * same check in test/ci-two-person-rule.test.ts).
 *
 *   node scripts/run-ts.cjs scripts/ci-two-person-rule.ts [workflow dir]
 *
 * Exit status: 0 when no job can reach a staging or production secret,
 * runner or change without a second person's approval; 1 with one line per
 * finding otherwise.
 */
import * as path from "node:path";
import { formatFinding } from "../plan/ci-two-person-rule";
import { WORKFLOW_DIR, checkRepository } from "./ci-two-person-rule/load";

const dir = process.argv[2] ? path.resolve(process.argv[2]) : WORKFLOW_DIR;
const findings = checkRepository(dir);
for (const finding of findings) process.stdout.write(`${formatFinding(finding)}\n`);
process.stdout.write(`two-person rule: ${findings.length} finding(s) in ${path.relative(process.cwd(), dir) || "."}\n`);
process.exit(findings.length > 0 ? 1 : 0);
