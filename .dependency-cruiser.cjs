/**
 * Import rules between the top-level folders (`npm run check:imports`, run by
 * .ci/run). The direction, lowest layer first, and why each edge is allowed:
 * docs/decisions/import-layering.md.
 *
 *   plan ⇄ config   plan holds the pure domain helpers (CIDR maths, version
 *                   rules, environment names) that config's validation uses;
 *                   plan sees config only as types (`import type`, erased).
 *   components      may import config and plan.
 *   stacks          may import config, plan and components.
 *   policy          may import config, plan and pure helpers of components
 *                   (the facts a policy judges are parsed the way the
 *                   component writes them); never stacks or synth.
 *   synth           runs the program and the policies: anything above, not
 *                   scripts or test.
 *   scripts         command-line entry points: anything but test.
 *   test            anything.
 */
const PROGRAM = "^(config|plan|components|stacks|policy|synth|scripts)/";

/** A rule forbidding imports from one folder into others, at runtime and in types. */
const forbid = (name, from, to, comment, extra = {}) => ({
  name,
  comment,
  severity: "error",
  from: { path: `^(${from})/` },
  to: { path: `^(${to})/`, ...extra },
});

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment:
        "A module must not reach itself through runtime imports: split the shared part into its own module. Cycles closed only by `import type` are erased at compile time and allowed (config/load.ts and config/cluster-api.ts share types that way).",
      severity: "error",
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only"] } },
    },
    forbid(
      "config-imports-only-plan",
      "config",
      "components|stacks|policy|synth|scripts|test",
      "config is the bottom layer besides plan's pure helpers: it validates input and may use nothing that builds or judges resources.",
    ),
    forbid(
      "plan-sees-config-as-types-only",
      "plan",
      "config",
      "plan may name config's types (PlatformConfig, SiteConfig) but not run config's code; otherwise config and plan would form a cycle.",
      { dependencyTypesNot: ["type-only"] },
    ),
    forbid(
      "plan-is-pure",
      "plan",
      "components|stacks|policy|synth|scripts|test",
      "plan is plain data and pure functions: no component, stack, policy, synth, script or test code.",
    ),
    forbid(
      "components-below-stacks",
      "components",
      "stacks|policy|synth|scripts|test",
      "A component is wired by stacks and judged by policy and synth; it must not know about any of them, nor about scripts or tests.",
    ),
    forbid(
      "stacks-below-synth",
      "stacks",
      "policy|synth|scripts|test",
      "stacks is the program Pulumi runs: it must not depend on the synth harness, the policies judging it, scripts or tests.",
    ),
    forbid(
      "policy-below-synth",
      "policy",
      "stacks|synth|scripts|test",
      "The policies judge what stacks build without importing them, and synth runs the policies, so policy must not import synth.",
    ),
    forbid(
      "synth-below-scripts",
      "synth",
      "scripts|test",
      "scripts are the entry points that drive synth; synth must not import them back.",
    ),
    forbid("scripts-below-test", "scripts", "test", "Tests drive scripts, never the other way round."),
    {
      name: "no-unresolvable",
      comment: "An import that does not resolve would hide an edge from every rule above.",
      severity: "error",
      from: { path: PROGRAM },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports are seen, so the layering rules cover them too (plan may import config's types only).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)node_modules/" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".mts", ".cts", ".js", ".cjs", ".mjs", ".json", ".d.ts"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
