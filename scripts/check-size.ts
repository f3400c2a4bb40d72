/**
 * The size rule (scripts/size/check.ts) over the repository's program code.
 *
 *   npm run check:size
 *
 * Exit status: 0 when no function and no file is over its limit; 1 with one
 * line per violation otherwise.
 */
import * as path from "node:path";
import { checkRepository, formatViolation, MAX_FILE_LINES, MAX_FUNCTION_LINES, PROGRAM_FOLDERS } from "./size/check";

// run-ts.cjs runs a bundle from elsewhere but sets argv[1] to this file.
const root = path.resolve(path.dirname(process.argv[1] ?? "scripts/check-size.ts"), "..");
const violations = checkRepository(root);
for (const v of violations) process.stderr.write(`${formatViolation(v)}\n`);
if (violations.length > 0) {
  process.stderr.write(`size: ${violations.length} violation(s)\n`);
  process.exit(1);
}
process.stdout.write(
  `size: no function over ${MAX_FUNCTION_LINES} lines and no file over ${MAX_FILE_LINES} lines in ${PROGRAM_FOLDERS.join(", ")}\n`,
);
