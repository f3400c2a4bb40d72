/**
 * The size checker (scripts/size/check.ts) on small inline sources: it must
 * flag a function or a file over the limit, whatever form the function takes,
 * and leave one at the limit alone.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { checkRepository, sizeViolations } from "../scripts/size/check";

/** A body of `n` statement lines. */
const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join("\n");

describe("size checker", () => {
  it("flags a function declaration longer than the limit, with its name, line and length", () => {
    const text = `// header\nexport function long(): void {\n${body(10)}\n}\n`;
    expect(sizeViolations("x.ts", text, { maxFunctionLines: 11 })).toEqual([
      { file: "x.ts", line: 2, kind: "function", name: "long", lines: 12, limit: 11 },
    ]);
  });

  it("leaves a function exactly at the limit alone", () => {
    const text = `function atLimit(): void {\n${body(10)}\n}\n`;
    expect(sizeViolations("x.ts", text, { maxFunctionLines: 12 })).toEqual([]);
  });

  it("flags arrow functions, class constructors and methods, named by what holds them", () => {
    const text = [
      `const arrow = () => {\n${body(5)}\n};`,
      `class Thing {\n  constructor() {\n${body(5)}\n  }\n  method(): void {\n${body(5)}\n  }\n}`,
      `const table = { entry: function () {\n${body(5)}\n} };`,
    ].join("\n");
    const names = sizeViolations("x.ts", text, { maxFunctionLines: 6, maxFileLines: 1000 }).map((v) => v.name);
    expect(names).toEqual(["arrow", "Thing.constructor", "method", "entry"]);
  });

  it("flags a long function nested inside a short-enough outer one as well as the outer", () => {
    const text = `function outer() {\n  const inner = () => {\n${body(8)}\n  };\n  return inner;\n}\n`;
    const found = sizeViolations("x.ts", text, { maxFunctionLines: 9 });
    expect(found.map((v) => [v.name, v.lines])).toEqual([
      ["outer", 13],
      ["inner", 10],
    ]);
  });

  it("flags a file over the file limit and not one at it", () => {
    const lines = (n: number) => `${body(n)}\n`;
    expect(sizeViolations("long.ts", lines(301))).toEqual([
      { file: "long.ts", line: 1, kind: "file", name: "long.ts", lines: 301, limit: 300 },
    ]);
    expect(sizeViolations("ok.ts", lines(300))).toEqual([]);
  });

  it("the default limits are 100 lines per function: a 101-line function is flagged", () => {
    const text = `function hundredAndOne() {\n${body(99)}\n}\n`;
    expect(sizeViolations("x.ts", text).map((v) => [v.name, v.lines])).toEqual([["hundredAndOne", 101]]);
    const ok = `function hundred() {\n${body(98)}\n}\n`;
    expect(sizeViolations("x.ts", ok)).toEqual([]);
  });

  it("walks only the program folders of a repository", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "size-check-"));
    const long = `export function long() {\n${body(120)}\n}\n`;
    for (const file of ["plan/nested/long.ts", "scripts/long.ts", "test/long.ts", "plan/types.d.ts"]) {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.writeFileSync(path.join(root, file), long);
    }
    try {
      expect(checkRepository(root).map((v) => `${v.file}:${v.name}`)).toEqual([
        path.join("plan", "nested", "long.ts") + ":long",
      ]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
