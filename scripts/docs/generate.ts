/** `npm run docs`: rewrites the documents generated from code. */
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "../../config/load";
import { GENERATED_DOCS } from "./registry";

for (const [file, render] of Object.entries(GENERATED_DOCS)) {
  fs.writeFileSync(path.join(REPO_ROOT, file), render());
  process.stdout.write(`wrote ${file}\n`);
}
