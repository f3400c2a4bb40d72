import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { OutputPathError, prepareStackDir, writeStackFile } from "../synth/output-dir";
import { ROOT } from "./support/stacks";

const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

/** Every file below `dir`, relative to it. */
function filesBelow(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

function synthCli(args: string[]) {
  return spawnSync(process.execPath, ["scripts/run-ts.cjs", "scripts/synth.ts", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
}

describe("synth writes only below --out", () => {
  it.each(["../escaped", "../../tmp/escaped", "/tmp/escaped", "a/b", "..", ".", "production/..", "prod\\..\\x", ""])(
    "refuses the stack name %j",
    (stack) => {
      const parent = tmp("ske-out-parent-");
      const out = path.join(parent, "out");
      expect(() => prepareStackDir(out, stack)).toThrow(OutputPathError);
      expect(filesBelow(parent)).toEqual([]);
      expect(fs.readdirSync(parent).filter((e) => e !== "out")).toEqual([]);
    },
  );

  it("refuses a stack directory that is a symlink to elsewhere", () => {
    const out = tmp("ske-out-");
    const elsewhere = tmp("ske-elsewhere-");
    fs.symlinkSync(elsewhere, path.join(out, "production"));
    expect(() => prepareStackDir(out, "production")).toThrow(/is a symlink/);
  });

  it("refuses to write through a report file planted as a symlink", () => {
    const out = tmp("ske-out-");
    const victim = path.join(tmp("ske-elsewhere-"), "victim.txt");
    fs.writeFileSync(victim, "untouched");
    const dir = prepareStackDir(out, "production");
    fs.symlinkSync(victim, path.join(dir, "compliance.md"));
    expect(() => writeStackFile(dir, "compliance.md", "report")).toThrow(/is a symlink/);
    expect(fs.readFileSync(victim, "utf8")).toBe("untouched");
  });

  it("writes into a fresh or existing real directory", () => {
    const out = tmp("ske-out-");
    const dir = prepareStackDir(path.join(out, "nested"), "test-lab");
    writeStackFile(dir, "compliance.md", "one");
    writeStackFile(prepareStackDir(path.join(out, "nested"), "test-lab"), "compliance.md", "two");
    expect(fs.readFileSync(path.join(out, "nested", "test-lab", "compliance.md"), "utf8")).toBe("two");
  });

  it("`npm run synth` exits 64 on a stack name that is a path, reads nothing and writes nothing", () => {
    const parent = tmp("ske-out-parent-");
    const result = synthCli(["--stack", "../escaped", "--out", path.join(parent, "out")]);
    expect(result.status).toBe(64);
    expect(result.stderr).toContain('--stack "../escaped" is not a stack name');
    expect(filesBelow(parent)).toEqual([]);
  });

  it("`npm run synth` exits 64 when the stack directory under --out is a symlink, and writes nothing through it", () => {
    const out = tmp("ske-out-");
    const elsewhere = tmp("ske-elsewhere-");
    fs.symlinkSync(elsewhere, path.join(out, "test"));
    const result = synthCli(["--stack", "test", "--out", out]);
    expect(result.status).toBe(64);
    expect(result.stderr).toMatch(/test is a symlink/);
    expect(filesBelow(elsewhere)).toEqual([]);
  }, 60_000);
});
