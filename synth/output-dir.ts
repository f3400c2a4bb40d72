/**
 * Where synth may write: `<out>/<stack>/` and nothing else. The stack name
 * comes from the command line (and CI may take it from a branch or an input),
 * so it is a name, never a path; and an existing symlink inside `<out>` is
 * never followed, so a planted link cannot redirect the report elsewhere.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Pulumi stack names we run: an environment, or `<environment>-<variant>`. No dots, no slashes. */
const STACK_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

export class OutputPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OutputPathError";
  }
}

export function stackNameProblem(stack: string): string | undefined {
  if (STACK_NAME.test(stack)) return undefined;
  return `--stack "${stack}" is not a stack name: use letters, digits, "-" and "_" only (for example production or test-lab), never a path`;
}

function isInside(parent: string, child: string): boolean {
  const relative = path.relative(parent, child);
  return relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative);
}

/**
 * Creates `<out>/<stack>` as a real directory inside `<out>` and returns it.
 * Refuses a stack name that is a path, and a `<stack>` entry that is a
 * symlink or resolves outside `<out>`.
 */
export function prepareStackDir(out: string, stack: string): string {
  const problem = stackNameProblem(stack);
  if (problem) throw new OutputPathError(problem);
  fs.mkdirSync(out, { recursive: true });
  const root = fs.realpathSync(out);
  const dir = path.join(root, stack);
  const existing = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (existing?.isSymbolicLink())
    throw new OutputPathError(`${dir} is a symlink; synth writes only into real directories under --out`);
  if (existing && !existing.isDirectory()) throw new OutputPathError(`${dir} exists and is not a directory`);
  if (!existing) fs.mkdirSync(dir);
  if (!isInside(root, fs.realpathSync(dir))) throw new OutputPathError(`${dir} resolves outside --out (${root})`);
  return dir;
}

/** Writes one file of the stack directory, refusing to follow a symlink planted in its place. */
export function writeStackFile(dir: string, name: string, content: string): void {
  if (path.basename(name) !== name) throw new OutputPathError(`${name} is not a file name`);
  const file = path.join(dir, name);
  let fd: number;
  try {
    fd = fs.openSync(
      file,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW,
      0o644,
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOOP")
      throw new OutputPathError(`${file} is a symlink; synth does not write through it`);
    throw err;
  }
  try {
    fs.writeSync(fd, content);
  } finally {
    fs.closeSync(fd);
  }
}
