// Runs a TypeScript entry point of this repository with plain Node: esbuild
// bundles the project's own modules (dependencies stay external) into
// node_modules/.cache, then the bundle is required in this process.
//
// Why not tsx: its per-require hooks and source-map handling cost more than
// the whole synth did; a one-shot bundle takes tens of milliseconds.
//
//   node scripts/run-ts.cjs <entry.ts> [args...]
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..");
const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write("usage: node scripts/run-ts.cjs <entry.ts> [args...]\n");
  process.exit(64);
}
const source = path.resolve(entry);
const outfile = path.join(
  root,
  "node_modules",
  ".cache",
  "ske-platform",
  `${path.relative(root, source).replace(/[\\/]/g, "__")}.cjs`,
);

const inputsFile = `${outfile}.inputs.json`;

/** The bundle is reused while no module it was built from is newer than it. */
function upToDate() {
  try {
    const built = fs.statSync(outfile).mtimeMs;
    const inputs = JSON.parse(fs.readFileSync(inputsFile, "utf8"));
    return inputs.every((input) => fs.statSync(path.join(root, input)).mtimeMs <= built);
  } catch {
    return false;
  }
}

if (!upToDate()) {
  const result = require("esbuild").buildSync({
    entryPoints: [source],
    outfile,
    absWorkingDir: root,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node22",
    packages: "external",
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
  });
  fs.writeFileSync(inputsFile, JSON.stringify(Object.keys(result.metafile.inputs)));
}
// The bundle sits elsewhere: keep __dirname-relative paths (address-plan.yaml) right.
process.argv = [process.argv[0], source, ...args];
require(outfile);
