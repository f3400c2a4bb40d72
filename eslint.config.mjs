// ESLint for the whole repository: typescript-eslint's type-checked
// recommended rules on TypeScript, ESLint's recommended rules on the few
// plain JavaScript files. Formatting is Prettier's job (.prettierrc.json).
import js from "@eslint/js";
import { defineConfig, globalIgnores } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig([
  // .gitignore'd output is ignored too; fixtures are data, not code we write.
  globalIgnores(["node_modules/", "out/", ".pulumi/", "test/fixtures/"]),
  {
    linterOptions: { reportUnusedDisableDirectives: "error" },
  },
  {
    files: ["**/*.{ts,mts,cts}"],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // The project service reads tsconfig.json, so ESLint sees the same
        // program as `npm run typecheck:ts5`: typescript-eslint loads the
        // `typescript` package (5.9), not typescript-native (7).
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // `const { key: _, ...rest } = object` is how the code drops a key
      // from a copy; the dropped binding is unused by design.
      "@typescript-eslint/no-unused-vars": ["error", { ignoreRestSiblings: true }],
    },
  },
  {
    // Plain JavaScript here runs on Node only: the run-ts launcher, the bench
    // probe, the archive-bucket helper and the etcd backup job's script.
    files: ["**/*.{js,cjs,mjs}"],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  {
    // Unit tests read what Pulumi's mocks recorded: resource inputs arrive as
    // `any` (MockResourceArgs.inputs), and the tests walk deep Kubernetes,
    // OpenStack and GitHub input objects and parsed YAML/JSON whose shape is
    // exactly what they assert. A wrong path there fails the assertion at run
    // time, which is the test's job; typing every manifest for the linter
    // would add no check. Only the test files themselves are exempt: the
    // shared helpers in test/support/ and the integration runners keep the
    // rules.
    files: ["test/**/*.test.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
    },
  },
]);
