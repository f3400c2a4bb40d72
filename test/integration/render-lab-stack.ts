/**
 * Writes the rendered test-lab stack file for the engine tier:
 *   node scripts/run-ts.cjs test/integration/render-lab-stack.ts <lab-dir>
 * Prints the file's path.
 */
import { writeLabStack } from "./lab-stack";
import { readLab } from "./lab";

const lab = readLab(process.argv[2]);
process.stdout.write(`${writeLabStack(lab.labDir, lab.externalNetwork.id)}\n`);
