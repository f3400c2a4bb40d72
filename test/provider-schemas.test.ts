/**
 * The bridged provider plugins (scripts/toolchain/providers) against the npm
 * SDKs the program is written for. Reads the committed generated schemas, so
 * no Go is needed. Fails on any property the program sets (at any depth) that
 * a plugin lacks, or whose shape differs between plugin, SDK and the value
 * the program passes: e.g. ServerGroup.policies flattened from a list to a
 * string, which the engine only warns about.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe as group, expect, it } from "vitest";
import { REDACTED, type RecordedResource } from "../synth/mock-runtime";
import { checkCommandInputs, COMMAND_INPUTS, UNKNOWN } from "./integration/engine/test-only-plugins/command-inputs";
import {
  BRIDGED,
  describe,
  readSchema,
  sameShape,
  schemaShape,
  schemaTypeProperties,
  sdkArgs,
  sdkInputType,
  sdkShape,
  valueFits,
  type Bridged,
  type PackageSchema,
  type Shape,
} from "./support/provider-schema";
import { ROOT, STACKS, synthOk } from "./support/stacks";

const packageOf = (token: string) =>
  token.startsWith("pulumi:providers:") ? token.split(":")[2]! : token.split(":")[0]!;
const isBridged = (pkg: string): pkg is Bridged => (BRIDGED as readonly string[]).includes(pkg);
/** The plugin version an SDK asks the engine for: its package version, without the "v" some SDKs keep. */
const sdkVersion = (pkg: string) =>
  (
    JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", "@pulumi", pkg, "package.json"), "utf8")) as {
      version: string;
    }
  ).version.replace(/^v/, "");

/** Provider inputs travel JSON-encoded (`"true"`); decode them for the shape check. */
function decodeProviderInput(value: unknown, shape: Shape): unknown {
  if (typeof value !== "string" || shape.kind === "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * Problems with the properties `value` sets, against the plugin's schema
 * properties and the SDK's declared types (both for the same object).
 */
function compareObject(
  schema: PackageSchema,
  pkg: Bridged,
  where: string,
  value: Record<string, unknown>,
  pluginProps: Record<string, Parameters<typeof schemaShape>[0]>,
  sdkProps: Record<string, string> | undefined,
  isProvider: boolean,
): string[] {
  const problems: string[] = [];
  for (const [key, raw] of Object.entries(value)) {
    if (key.startsWith("__") || raw === undefined) continue;
    const at = `${where}.${key}`;
    const plugin = pluginProps[key];
    if (!plugin) {
      problems.push(`${at}: the program sets it, the plugin has no such input`);
      continue;
    }
    const pluginShape = schemaShape(plugin);
    const declared = sdkProps?.[key];
    const sdk = declared === undefined ? undefined : sdkShape(declared);
    if (sdk && !sameShape(pluginShape, sdk))
      problems.push(`${at}: plugin takes ${describe(pluginShape)}, @pulumi/${pkg} declares ${describe(sdk)}`);
    // A secret the mock run redacted has no shape to check; its declared shapes were compared above.
    if (raw === REDACTED) continue;
    const v = isProvider ? decodeProviderInput(raw, pluginShape) : raw;
    if (!valueFits(v, pluginShape))
      problems.push(
        `${at}: the program passes ${JSON.stringify(v).slice(0, 60)}, the plugin takes ${describe(pluginShape)}`,
      );
    // Nested objects: compare the properties the program sets inside them too.
    const elements =
      pluginShape.kind === "array" && Array.isArray(v)
        ? v.map((e, i) => [e, pluginShape.items, sdk?.kind === "array" ? sdk.items : undefined, `${at}[${i}]`] as const)
        : [[v, pluginShape, sdk, at] as const];
    for (const [element, shape, sdkElement, elementAt] of elements) {
      if (shape.kind !== "object" || typeof element !== "object" || element === null || Array.isArray(element))
        continue;
      const nestedPlugin = schemaTypeProperties(schema, shape.ref);
      if (!nestedPlugin) {
        problems.push(`${elementAt}: the plugin's schema has no type ${shape.ref}`);
        continue;
      }
      const nestedSdk = sdkElement?.kind === "object" ? sdkInputType(pkg, sdkElement.ref) : undefined;
      problems.push(
        ...compareObject(schema, pkg, elementAt, element as Record<string, unknown>, nestedPlugin, nestedSdk, false),
      );
    }
  }
  return problems;
}

/** Everything the program sets on bridged resources and providers that the plugin would not take as the SDK means it. */
export function schemaProblems(
  schemas: Record<Bridged, PackageSchema>,
  resources: readonly RecordedResource[],
): string[] {
  const problems = new Set<string>();
  for (const r of resources) {
    const pkg = packageOf(r.type);
    if (!isBridged(pkg)) continue;
    const schema = schemas[pkg];
    const isProvider = r.type.startsWith("pulumi:providers:");
    const pluginProps = isProvider ? schema.provider?.inputProperties : schema.resources[r.type]?.inputProperties;
    if (!pluginProps) {
      problems.add(`${r.type}: the ${pkg} plugin has no such resource`);
      continue;
    }
    const resourceName = r.type.split(":").pop()!;
    const sdkProps = sdkArgs(
      isProvider ? `${pkg}:index/provider:Provider` : r.type,
      isProvider ? "ProviderArgs" : `${resourceName}Args`,
    );
    for (const p of compareObject(schema, pkg, r.type, r.inputs, pluginProps, sdkProps, isProvider)) problems.add(p);
  }
  return [...problems].sort();
}

/**
 * Function arguments @pulumi/openstack 3.15.2 declares that upstream v3.4.0
 * no longer has (it replaced image_ids' sort_key/sort_direction with `sort`).
 * The plugin cannot serve them, so the program must never pass them: the
 * test fails if any source file names one as a property, or if the plugin
 * gains it (the entry is then stale).
 */
const ABSENT_UPSTREAM: Record<string, string[]> = {
  "openstack:images/getImageIds:getImageIds": ["sortKey", "sortDirection"],
};

function programSource(): string[] {
  const walk = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((e) =>
        e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : [],
      );
  return ["components", "stacks"].flatMap((d) => walk(path.join(ROOT, d))).map((file) => fs.readFileSync(file, "utf8"));
}

/** `new openstack.networking.Port(` / `openstack.identity.getAuthScope(` in the program's source. */
function sourceUses(): { constructors: Set<string>; functions: Set<string> } {
  const constructors = new Set<string>();
  const functions = new Set<string>();
  const walk = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((e) =>
        e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : [],
      );
  for (const file of ["components", "stacks"].flatMap((d) => walk(path.join(ROOT, d)))) {
    const text = fs.readFileSync(file, "utf8");
    for (const m of text.matchAll(/new (openstack|github|tls|random)\.((?:\w+\.)*[A-Z]\w*)\(/g))
      constructors.add(`${m[1]}.${m[2]}`);
    for (const m of text.matchAll(/\b(openstack|github|tls|random)\.((?:\w+\.)*get[A-Z]\w*)\(/g))
      functions.add(`${m[1]}.${m[2]}`);
  }
  return { constructors, functions };
}

/** The token an SDK class registers (its `__pulumiType`). */
function tokenOfClass(use: string): string {
  const [pkg, ...names] = use.split(".");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  let target: any = require(`@pulumi/${pkg}`);
  for (const n of names) target = target[n];
  return target.__pulumiType as string;
}

/** The token an SDK function invokes, read from its compiled module. */
function tokenOfFunction(use: string): string {
  const [pkg, ...names] = use.split(".");
  // getXOutput lives in getX's module and invokes the same token as getX.
  const fn = names[names.length - 1]!.replace(/Output$/, "");
  const file = path.join(ROOT, "node_modules", "@pulumi", pkg!, ...names.slice(0, -1), `${fn}.js`);
  const m = /invoke\("([^"]+)"/.exec(fs.readFileSync(file, "utf8"));
  if (!m) throw new Error(`${file}: no invoke token`);
  return m[1]!;
}

group("bridged provider plugins against the npm SDKs the program uses", () => {
  const schemas = Object.fromEntries(BRIDGED.map((pkg) => [pkg, readSchema(pkg)])) as Record<Bridged, PackageSchema>;
  const resources: Record<string, RecordedResource[]> = {};
  beforeAll(async () => {
    for (const stack of STACKS) resources[stack] = (await synthOk(stack)).resources;
  }, 60_000);

  it("each plugin's schema carries the plugin version its npm SDK asks the engine for", () => {
    for (const pkg of BRIDGED)
      expect({ pkg, version: schemas[pkg].version, name: schemas[pkg].name }).toEqual({
        pkg,
        version: sdkVersion(pkg),
        name: pkg,
      });
  });

  it("every bridged resource class and function the program's source uses exists in its plugin", () => {
    const { constructors, functions } = sourceUses();
    const missing: string[] = [];
    for (const use of constructors) {
      const token = tokenOfClass(use);
      const pkg = use.split(".")[0] as Bridged;
      if (!token) missing.push(`${use}: no token`);
      // A Provider class registers under the bare package name: the plugin itself.
      else if (token !== pkg && !schemas[pkg].resources[token]) missing.push(`${use} (${token})`);
    }
    for (const use of functions) {
      const token = tokenOfFunction(use);
      if (!schemas[use.split(".")[0] as Bridged].functions?.[token]) missing.push(`${use} (${token})`);
    }
    expect(constructors.size).toBeGreaterThan(10);
    expect(functions.has("openstack.identity.getAuthScope")).toBe(true);
    expect(missing).toEqual([]);
  });

  it("every function the program calls takes the SDK's arguments with the SDK's shapes", () => {
    const problems: string[] = [];
    for (const use of sourceUses().functions) {
      const token = tokenOfFunction(use);
      const pkg = use.split(".")[0] as Bridged;
      const plugin = schemas[pkg].functions?.[token]?.inputs?.properties ?? {};
      const fn = token.split(":").pop()!;
      const sdk = sdkArgs(token, `${fn[0]!.toUpperCase()}${fn.slice(1)}Args`);
      for (const name of ABSENT_UPSTREAM[token] ?? []) {
        if (plugin[name])
          problems.push(
            `${token}.${name}: listed as absent upstream, but the plugin has it (drop it from ABSENT_UPSTREAM)`,
          );
        else if (programSource().some((text) => new RegExp(`\\b${name}\\s*:`).test(text)))
          problems.push(`${token}.${name}: the program passes it, the plugin lacks it`);
      }
      for (const [name, declared] of Object.entries(sdk)) {
        if (!plugin[name] && ABSENT_UPSTREAM[token]?.includes(name)) continue;
        if (!plugin[name]) problems.push(`${token}.${name}: in the SDK, not in the plugin`);
        else if (!sameShape(schemaShape(plugin[name]), sdkShape(declared)))
          problems.push(
            `${token}.${name}: plugin ${describe(schemaShape(plugin[name]))}, SDK ${describe(sdkShape(declared))}`,
          );
      }
    }
    expect(problems).toEqual([]);
  });

  it.each(STACKS)(
    "%s: every property the program sets on openstack, github, tls and random resources is an input of the plugin, with the SDK's shape",
    (stack) => {
      const bridged = resources[stack]!.filter((r) => isBridged(packageOf(r.type)));
      expect(bridged.length).toBeGreaterThan(100);
      expect(schemaProblems(schemas, resources[stack]!)).toEqual([]);
    },
  );

  it("the comparison catches a list flattened to a string (ServerGroup.policies), a missing input and a missing nested input", () => {
    const broken = structuredClone(schemas);
    const serverGroup = broken.openstack.resources["openstack:compute/serverGroup:ServerGroup"]!;
    serverGroup.inputProperties!.policies = { type: "string" };
    delete broken.openstack.resources["openstack:networking/subnet:Subnet"]!.inputProperties!.allocationPools;
    const fixedIp = Object.entries(broken.openstack.types ?? {}).find(
      ([ref]) => ref === "openstack:networking/PortFixedIp:PortFixedIp",
    );
    expect(fixedIp).toBeDefined();
    delete fixedIp![1].properties!.subnetId;
    const problems = schemaProblems(broken, resources.production!);
    expect(problems).toContain(
      "openstack:compute/serverGroup:ServerGroup.policies: plugin takes string, @pulumi/openstack declares list of string",
    );
    expect(
      problems.some((p) =>
        p.startsWith(
          "openstack:networking/subnet:Subnet.allocationPools: the program sets it, the plugin has no such input",
        ),
      ),
    ).toBe(true);
    expect(
      problems.some((p) => /^openstack:networking\/port:Port\.fixedIps\[0\]\.subnetId: the program sets it/.test(p)),
    ).toBe(true);
  });
});

group("the TEST-ONLY command provider's Check against @pulumi/command", () => {
  it("knows exactly the inputs @pulumi/command 1.2.1 declares, with their shapes", () => {
    for (const [token, shape] of Object.entries(COMMAND_INPUTS)) {
      const sdk = sdkArgs(token.replace(/^command:(\w+):(\w+)$/, "command:$1/command:$2"), "CommandArgs");
      expect(Object.keys(shape).sort(), token).toEqual(Object.keys(sdk).sort());
      const asShape: Record<string, Shape> = {
        string: { kind: "string" },
        logging: { kind: "string" },
        boolean: { kind: "boolean" },
        "string[]": { kind: "array", items: { kind: "string" } },
        "any[]": { kind: "array", items: { kind: "any" } },
        "map<string>": { kind: "map", values: { kind: "string" } },
        object: { kind: "object", ref: "" },
      };
      const differing = Object.entries(shape).filter(
        ([name, kind]) =>
          !sameShape(asShape[kind]!, sdkShape(sdk[name]!)) || sdkShape(sdk[name]!).kind !== asShape[kind]!.kind,
      );
      expect(
        differing.map(([name, kind]) => `${token}.${name}: ${kind}, SDK ${describe(sdkShape(sdk[name]!))}`),
      ).toEqual([]);
    }
  });

  it.each(STACKS)(
    "%s: accepts every command resource the program registers, and refuses a misspelt input",
    async (stack) => {
      const commands = (await synthOk(stack)).resources.filter((r) => r.type.startsWith("command:"));
      expect(commands.length).toBeGreaterThan(0);
      // The engine hands Check a secret's plain value; the mock run redacted it, so it stands in as unknown here.
      const asChecked = (inputs: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v === REDACTED ? UNKNOWN : v]));
      for (const c of commands)
        expect(checkCommandInputs(c.type, asChecked(c.inputs)), `${c.type} ${c.name}`).toEqual([]);
      const first = commands[0]!;
      expect(checkCommandInputs(first.type, { ...asChecked(first.inputs), enviroment: {} })).toEqual([
        { property: "enviroment", reason: `${first.type} has no input "enviroment"` },
      ]);
      expect(
        checkCommandInputs(first.type, { ...asChecked(first.inputs), logging: "everything" }).map((p) => p.property),
      ).toEqual(["logging"]);
      expect(
        checkCommandInputs(first.type, { ...asChecked(first.inputs), environment: { A: 1 } }).map((p) => p.property),
      ).toEqual(["environment"]);
    },
  );
});
