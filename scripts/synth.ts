/**
 * Offline synth: runs the real program (the Pulumi.yaml entry point) under
 * Pulumi's mock runtime and writes what it would register. No cloud, no CLI.
 *
 *   npm run synth -- --stack <env> [--config <Pulumi.<env>.yaml-format file>] [--out <dir>]
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../config/load";
import { synthesize } from "../synth";
import { OutputPathError, prepareStackDir, stackNameProblem, writeStackFile } from "../synth/output-dir";
import { complianceRecord } from "../synth/diff-input";
import { refusalReport } from "../synth/refusal-report";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      stack: { type: "string" },
      config: { type: "string" },
      out: { type: "string", default: "out" },
      "address-plan": { type: "string" },
    },
  });
  if (!values.stack) {
    process.stderr.write("usage: npm run synth -- --stack <production|staging|test> [--config <file>] [--out <dir>]\n");
    return 64;
  }
  // Before anything is read: the stack name also picks Pulumi.<stack>.yaml.
  const badStack = stackNameProblem(values.stack);
  if (badStack) {
    process.stderr.write(`${badStack}\n`);
    return 64;
  }
  const configFile = path.resolve(values.config ?? path.join(REPO_ROOT, `Pulumi.${values.stack}.yaml`));
  const result = await synthesize({
    stack: values.stack,
    configFile,
    ...(values["address-plan"] ? { addressPlanFile: path.resolve(values["address-plan"]) } : {}),
  });
  if (!result.ok) {
    process.stderr.write(`${result.error}\n`);
    replaceWithRefusal(path.resolve(values.out), values.stack, result.error, result.problems);
    return 1;
  }
  let dir: string;
  try {
    dir = prepareStackDir(path.resolve(values.out), values.stack);
    writeStackFile(dir, "resources.json", `${JSON.stringify(result.resources, null, 2)}\n`);
    writeStackFile(dir, "outputs.json", `${JSON.stringify(result.outputs, null, 2)}\n`);
    writeStackFile(dir, "compliance.md", `${result.compliance.report}\n`);
    writeStackFile(dir, "capacity.md", result.capacity);
    writeStackFile(dir, "compliance.json", `${JSON.stringify(complianceRecord(result.compliance), null, 2)}\n`);
  } catch (err) {
    if (err instanceof OutputPathError) {
      process.stderr.write(`${err.message}\n`);
      return 64;
    }
    throw err;
  }
  process.stdout.write(
    `${result.summary}\n\nWrote ${path.relative(process.cwd(), dir)}/resources.json (${result.resources.length} resources), compliance.md and capacity.md\n`,
  );
  if (result.compliance.failedControls.length > 0) {
    process.stderr.write(`${result.compliance.verdict}\n`);
    return 2;
  }
  return 0;
}

/** Leaves a FAIL report, and no stale resources or outputs, where an earlier run may have written a PASS. */
function replaceWithRefusal(
  out: string,
  stack: string,
  error: string,
  problems: Parameters<typeof refusalReport>[2],
): void {
  let dir: string;
  try {
    dir = prepareStackDir(out, stack);
  } catch (err) {
    if (err instanceof OutputPathError) {
      process.stderr.write(`no report written: ${err.message}\n`);
      return;
    }
    throw err;
  }
  // rmSync removes a symlink itself, never its target.
  for (const stale of ["resources.json", "outputs.json", "compliance.json", "capacity.md"])
    fs.rmSync(path.join(dir, stale), { force: true });
  writeStackFile(dir, "compliance.md", `${refusalReport(stack, error, problems)}\n`);
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`synth failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
