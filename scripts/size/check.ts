/**
 * Size rule for program code: no function over MAX_FUNCTION_LINES lines and no
 * file over MAX_FILE_LINES lines in config/, plan/, components/, stacks/ and
 * policy/. Long functions and files are where the next engineer gets lost, so
 * the rule is checked rather than remembered.
 * The command line is scripts/check-size.ts (`npm run check:size`).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";

export const MAX_FUNCTION_LINES = 100;
export const MAX_FILE_LINES = 300;
export const PROGRAM_FOLDERS = ["config", "plan", "components", "stacks", "policy"] as const;

export interface SizeViolation {
  file: string;
  /** 1-based line where the function or file starts. */
  line: number;
  kind: "function" | "file";
  name: string;
  lines: number;
  limit: number;
}

function isFunctionLike(node: ts.Node): node is ts.FunctionLikeDeclaration {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isFunctionExpression(node) ||
    ts.isArrowFunction(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  );
}

function functionName(node: ts.FunctionLikeDeclaration): string {
  if (ts.isConstructorDeclaration(node)) {
    const cls = node.parent;
    return `${ts.isClassLike(cls) && cls.name ? cls.name.text : "class"}.constructor`;
  }
  if (node.name) return node.name.getText();
  // An anonymous function takes the name it is bound to, where there is one.
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) {
    return parent.name.getText();
  }
  return "(anonymous)";
}

/** Violations in one source text; `file` is only used to label them. */
export function sizeViolations(
  file: string,
  text: string,
  limits: { maxFunctionLines?: number; maxFileLines?: number } = {},
): SizeViolation[] {
  const maxFunction = limits.maxFunctionLines ?? MAX_FUNCTION_LINES;
  const maxFile = limits.maxFileLines ?? MAX_FILE_LINES;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: SizeViolation[] = [];
  const lineOf = (pos: number) => source.getLineAndCharacterOfPosition(pos).line + 1;

  const fileLines = text.endsWith("\n") ? text.split("\n").length - 1 : text.split("\n").length;
  if (fileLines > maxFile) {
    found.push({ file, line: 1, kind: "file", name: path.basename(file), lines: fileLines, limit: maxFile });
  }
  const visit = (node: ts.Node): void => {
    if (isFunctionLike(node) && node.body) {
      const start = lineOf(node.getStart(source));
      const lines = lineOf(node.getEnd()) - start + 1;
      if (lines > maxFunction) {
        found.push({ file, line: start, kind: "function", name: functionName(node), lines, limit: maxFunction });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function programFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(ts|mts|cts)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) files.push(full);
    }
  };
  for (const folder of PROGRAM_FOLDERS) {
    const dir = path.join(root, folder);
    if (fs.existsSync(dir)) walk(dir);
  }
  return files.sort();
}

/** Violations in the program folders under `root`. */
export function checkRepository(root: string): SizeViolation[] {
  return programFiles(root).flatMap((file) => sizeViolations(path.relative(root, file), fs.readFileSync(file, "utf8")));
}

export function formatViolation(v: SizeViolation): string {
  return `${v.file}:${v.line}: ${v.kind} ${v.name} has ${v.lines} lines (limit ${v.limit})`;
}
