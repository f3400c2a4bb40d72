/**
 * The input shape of @pulumi/command 1.2.1's resources, for the TEST-ONLY
 * command provider's Check (command-provider.ts). Pure, so unit tests can
 * import it without starting a server.
 */
/** The plugin version @pulumi/command 1.2.1 asks the engine for. */
export const COMMAND_PLUGIN_VERSION = "1.2.1";
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

type Kind = "string" | "string[]" | "map<string>" | "boolean" | "logging" | "object" | "any[]";

const COMMON: Record<string, Kind> = {
  create: "string",
  update: "string",
  delete: "string",
  stdin: "string",
  environment: "map<string>",
  triggers: "any[]",
  logging: "logging",
  addPreviousOutputInEnv: "boolean",
};

/** Input names and kinds of @pulumi/command 1.2.1's CommandArgs, by token. */
export const COMMAND_INPUTS: Record<string, Record<string, Kind>> = {
  "command:local:Command": {
    ...COMMON,
    dir: "string",
    interpreter: "string[]",
    assetPaths: "string[]",
    archivePaths: "string[]",
  },
  "command:remote:Command": { ...COMMON, connection: "object" },
};

const LOGGING = ["stdout", "stderr", "stdoutAndStderr", "none"];

const isUnknown = (value: unknown) => value === UNKNOWN;

function kindProblem(kind: Kind, value: unknown): string | undefined {
  if (isUnknown(value) || value === null || value === undefined) return undefined;
  const isText = (v: unknown) => typeof v === "string";
  switch (kind) {
    case "string":
      return isText(value) ? undefined : "expected a string";
    case "boolean":
      return typeof value === "boolean" ? undefined : "expected a boolean";
    case "logging":
      return typeof value === "string" && LOGGING.includes(value) ? undefined : `expected one of ${LOGGING.join(", ")}`;
    case "string[]":
      return Array.isArray(value) && value.every((v) => isUnknown(v) || isText(v))
        ? undefined
        : "expected a list of strings";
    case "any[]":
      return Array.isArray(value) ? undefined : "expected a list";
    case "object":
      return typeof value === "object" && !Array.isArray(value) ? undefined : "expected an object";
    case "map<string>":
      return typeof value === "object" &&
        !Array.isArray(value) &&
        Object.values(value).every((v) => isUnknown(v) || isText(v))
        ? undefined
        : "expected a map of strings";
  }
}

/** Check failures for one resource's inputs: unknown names and wrong value types. */
export function checkCommandInputs(
  type: string,
  inputs: Record<string, unknown>,
): { property: string; reason: string }[] {
  const shape = COMMAND_INPUTS[type];
  if (!shape) return [{ property: "", reason: `${type} is not a resource of @pulumi/command 1.2.1` }];
  const problems: { property: string; reason: string }[] = [];
  for (const [key, value] of Object.entries(inputs)) {
    if (key.startsWith("__")) continue;
    const kind = shape[key];
    if (!kind) {
      problems.push({ property: key, reason: `${type} has no input "${key}"` });
      continue;
    }
    const problem = kindProblem(kind, value);
    if (problem) problems.push({ property: key, reason: `${key}: ${problem}` });
  }
  if (type === "command:remote:Command" && inputs.connection === undefined)
    problems.push({ property: "connection", reason: "connection is required" });
  return problems;
}
