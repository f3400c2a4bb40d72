/**
 * The two-person check on workflow files, from the command line (CI runs the
 * same check in test/ci-two-person-rule.test.ts).
 *
 *   node scripts/run-ts.cjs scripts/ci-two-person-rule.ts [workflow dir] [--environments <file.json>] [--runner-groups <file.json>]
 *
 * By default the environments and the runner groups are the ones the
 * committed stacks declare; `--environments` takes a JSON list of
 * EnvironmentPlan instead (for example
 * test/fixtures/workflows/before-two-person/environments.json, the
 * declarations before the rule), and `--runner-groups` a JSON object of
 * stack -> workflow files or "any" (for example
 * test/fixtures/workflows/before-runner-groups/runner-groups.json, the
 * groups as the runner branch declared them).
 *
 * Exit status: 0 when no job can reach a staging or production secret,
 * runner or change without a second person's approval; 1 with one line per
 * finding otherwise; 2 for bad arguments.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import type { EnvironmentPlan } from "../plan/change-management";
import { formatFinding } from "../plan/ci-two-person-rule";
import { WORKFLOW_DIR, checkRepository, declaredEnvironments, declaredRunnerGroups } from "./ci-two-person-rule/load";

let parsed: ReturnType<
  typeof parseArgs<{
    options: { environments: { type: "string" }; "runner-groups": { type: "string" } };
    allowPositionals: true;
  }>
>;
try {
  parsed = parseArgs({
    options: { environments: { type: "string" }, "runner-groups": { type: "string" } },
    allowPositionals: true,
  });
} catch (err) {
  process.stderr.write(
    `${(err as Error).message}\nusage: ci-two-person-rule.ts [workflow dir] [--environments <file.json>] [--runner-groups <file.json>]\n`,
  );
  process.exit(2);
}
const dir = parsed.positionals[0] ? path.resolve(parsed.positionals[0]) : WORKFLOW_DIR;
const environments = parsed.values.environments
  ? (JSON.parse(fs.readFileSync(parsed.values.environments, "utf8")) as EnvironmentPlan[])
  : declaredEnvironments();
const runnerGroups = parsed.values["runner-groups"]
  ? (JSON.parse(fs.readFileSync(parsed.values["runner-groups"], "utf8")) as ReturnType<typeof declaredRunnerGroups>)
  : declaredRunnerGroups();
const findings = checkRepository(dir, environments, runnerGroups);
for (const finding of findings) process.stdout.write(`${formatFinding(finding)}\n`);
process.stdout.write(`two-person rule: ${findings.length} finding(s) in ${path.relative(process.cwd(), dir) || "."}\n`);
process.exit(findings.length > 0 ? 1 : 0);
