#!/usr/bin/env node
/**
 * Reconciles (`reconcile`, run by the program's command resource on `up`) or
 * verifies (`verify`, run by an invoke on every preview and up, so also by
 * the drift check) the append-only audit archive. Every input comes from the
 * environment the program sets, credentials included; stdout is one JSON
 * line with what was read back, and nothing secret is ever printed.
 *
 * Plain CommonJS on purpose: at deploy time this needs only Node (22.18 or
 * later strips the types of the module it loads) and the runtime
 * dependencies, no tsx, esbuild or other devDependency.
 */
"use strict";
// The program's modules import each other without extensions, as ts-node and
// esbuild expect; plain Node resolves a relative import to its `.ts` file
// only through this hook. (Importing with `.ts` would need the compiler
// option allowImportingTsExtensions, which ts-node, loading the policy pack,
// refuses.)
require("node:module").registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (err) {
      if (/^\.\.?\//.test(specifier) && !/\.[cm]?[jt]s$/.test(specifier))
        return nextResolve(`${specifier}.ts`, context);
      throw err;
    }
  },
});
const { runArchiveCommand } = require("./object-lock-bucket.ts");

runArchiveCommand(process.argv[2], process.env).then(
  (readBack) => process.stdout.write(`${JSON.stringify(readBack)}\n`),
  (err) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
