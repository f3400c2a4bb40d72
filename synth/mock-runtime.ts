import * as pulumi from "@pulumi/pulumi";
import { readProjectPlan } from "../config/projects";
import { authScopeInvoke, declaredScope } from "./fake-auth-scope";
import { withFakeRoles } from "./fake-invokes";
import { cloudInvoke, type CloudAnswer, type FakeCloud } from "./fake-preflight";
import { preflightRuntime } from "../stacks/preflight";
import type { StackFileConfig } from "../config/stack-file";
import { SECRET_SIG, SECRET_SIG_KEY, outputPromise, resourceName, waitForRPCs } from "../stacks/sdk-internals";

export const REDACTED = "[secret]";

export interface RecordedResource {
  type: string;
  name: string;
  /** Name of the parent resource; the stack's own name for top-level resources. */
  parent: string | null;
  /** Inputs as the engine would receive them, with every secret replaced by "[secret]". */
  inputs: Record<string, unknown>;
  /** Provider reference (`urn::id`) for custom resources, when one is set explicitly. */
  provider?: string;
  custom: boolean;
  /** Resource options the program set, as far as they matter to reviewers. */
  options: { protect: boolean; retainOnDelete: boolean; dependsOn: string[]; ignoreChanges?: string[] };
  /** Input paths whose value was a secret, e.g. `userData`. */
  secretPaths: string[];
}

export interface ProgramRun {
  resources: RecordedResource[];
  /** Stack outputs with secret values replaced by "[secret]". */
  outputs: Record<string, unknown>;
  /** Output paths that hold plain (non-secret) values. */
  plainOutputPaths: string[];
  /** Output paths that hold secrets. */
  secretOutputPaths: string[];
}

/** The program threw; `registered` tells what it had registered by then. */
export class ProgramFailed extends Error {
  constructor(
    override readonly cause: unknown,
    readonly registered: RecordedResource[],
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = "ProgramFailed";
  }
}

/** A secret as the mock monitor hands it over: Pulumi's signature envelope around the value. */
export function isSecretEnvelope(value: unknown): value is { value: unknown } {
  return (
    typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG
  );
}

/** Replaces secret envelopes by the values they hold, as CrossGuard shows them to policies. */
export function revealSecrets(value: unknown): unknown {
  if (isSecretEnvelope(value)) return revealSecrets(value.value);
  if (Array.isArray(value)) return value.map(revealSecrets);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revealSecrets(v)]));
  }
  return value;
}

/** Replaces secret envelopes with "[secret]" and notes where they were. */
export function redact(value: unknown, at = "", found: string[] = []): unknown {
  if (isSecretEnvelope(value)) {
    found.push(at || "(root)");
    return REDACTED;
  }
  if (Array.isArray(value)) return value.map((v, i) => redact(v, `${at}[${i}]`, found));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, at ? `${at}.${k}` : k, found)]));
  }
  return value;
}

/**
 * Outputs that a mock must invent because the real provider computes them.
 * Only values the program reads back need to be here.
 */
export type FakeState = (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown>;

const noFakes: FakeState = () => ({});

export interface RunOptions {
  stackFile: StackFileConfig;
  /** Module whose export is the program function (the Pulumi.yaml `main`). */
  entry: () => Promise<unknown>;
  fakeState?: FakeState;
  project?: string;
  /**
   * Answers to data-source invokes; undefined falls back to echoing the inputs.
   * By default Keystone answers with exactly the declared projects, so every
   * caller runs the program's project-scope check and passes it.
   */
  invoke?: (args: pulumi.runtime.MockCallArgs) => Record<string, unknown> | undefined;
  /** What the pre-flight's lookups find; without it the run is offline and the program skips them. */
  cloud?: FakeCloud | CloudAnswer;
}

/**
 * Runs the real program under Pulumi's mock runtime and records every
 * resource registration. No engine, no CLI, no cloud.
 */
export async function runProgram(options: RunOptions): Promise<ProgramRun> {
  const invoke = options.invoke ?? withFakeRoles(authScopeInvoke(declaredScope(readProjectPlan())));
  const { stackFile, entry } = options;
  const preflight = options.cloud ? cloudInvoke(options.cloud) : undefined;
  if (options.cloud) delete preflightRuntime.offline;
  else preflightRuntime.offline = "offline synth: no cloud to ask";
  const fakeState = options.fakeState ?? noFakes;
  const project = options.project ?? "ske-platform";
  const byKey = new Map<string, RecordedResource>();
  const ordered: RecordedResource[] = [];
  const parents = new Map<string, string | null>();
  const opts = new Map<string, RecordedResource["options"]>();
  const stackName = `${project}-${stackFile.stack}`;

  pulumi.runtime.setAllConfig(stackFile.values, stackFile.secretKeys);
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const key = `${args.type}::${args.name}`;
        const secretPaths: string[] = [];
        const inputs = redact(args.inputs, "", secretPaths) as Record<string, unknown>;
        const record: RecordedResource = {
          type: args.type,
          name: args.name,
          parent: args.type === "pulumi:pulumi:Stack" ? null : (parents.get(key) ?? stackName),
          inputs,
          custom: args.custom ?? false,
          ...(args.provider ? { provider: args.provider } : {}),
          options: opts.get(key) ?? { protect: false, retainOnDelete: false, dependsOn: [] },
          secretPaths,
        };
        if (byKey.has(key)) {
          throw new Error(`duplicate resource ${key}: the engine would refuse a second URN`);
        }
        byKey.set(key, record);
        ordered.push(record);
        const rawInputs = args.inputs as Record<string, unknown>;
        return {
          id: `${args.name}_id`,
          state: { ...rawInputs, ...fakeState(args.type, args.name, rawInputs) },
        };
      },
      call(args) {
        const fallback = (answer: Record<string, unknown> | undefined) =>
          answer ?? invoke(args) ?? (args.inputs as Record<string, unknown>);
        const answer = preflight?.(args);
        return answer instanceof Promise ? answer.then(fallback) : fallback(answer);
      },
    },
    project,
    stackFile.stack,
    false,
  );

  let programOutputs: unknown;
  let programError: unknown;
  // A throw inside an apply rejects the Output; the resource that takes it
  // as an input is then never registered, and nothing awaits that
  // registration. The real engine's language host fails the run on such an
  // unhandled rejection; under mocks it would vanish, so it is collected here.
  const rejections = new RejectionCollector();
  rejections.start();
  // The SDK records a stack trace for every internal promise and resource;
  // formatting those through source maps was most of synth's time. Nothing
  // here reads them, and program errors are reported by message.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    await pulumi.runtime.runInPulumiStack(async () => {
      pulumi.runtime.registerStackTransformation((args) => {
        const key = `${args.type}::${args.name}`;
        parents.set(key, resourceName(args.opts.parent) ?? stackName);
        opts.set(key, {
          protect: args.opts.protect === true,
          retainOnDelete: (args.opts as pulumi.CustomResourceOptions).retainOnDelete === true,
          dependsOn: ([] as unknown[]).concat(args.opts.dependsOn ?? []).map((d) => resourceName(d) ?? "?"),
          // The engine keeps the old value of these inputs after create: the review diff must not count them.
          ...(args.opts.ignoreChanges?.length ? { ignoreChanges: [...args.opts.ignoreChanges] } : {}),
        });
        return undefined;
      });
      // The error is kept here rather than thrown through the stack resource,
      // whose internal promises would otherwise reject with no one listening.
      try {
        programOutputs = await entry();
      } catch (err) {
        programError = err;
        return {};
      }
      return programOutputs as Record<string, unknown>;
    });
    await waitForRPCs();
  } catch (err) {
    // The stack resource failed to register the outputs (one of them rejected).
    programError ??= err;
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  if (programError !== undefined) {
    await rejections.settle();
    rejections.stop();
    throw new ProgramFailed(programError, ordered);
  }

  const plainOutputPaths: string[] = [];
  const secretOutputPaths: string[] = [];
  let redacted: unknown;
  try {
    redacted = await classifyOutputs(programOutputs, "", plainOutputPaths, secretOutputPaths);
  } catch (err) {
    // Its other promise chains reject too; let them arrive here, not in the next run.
    await rejections.settle();
    rejections.stop();
    throw new ProgramFailed(new Error(`a stack output failed: ${errorMessage(err)}`), ordered);
  }
  // Node reports unhandled rejections only after the microtask queue drains.
  await rejections.settle();
  rejections.stop();
  if (rejections.errors.length > 0) {
    const messages = [...new Set(rejections.errors.map(errorMessage))];
    throw new ProgramFailed(
      new Error(
        `the program failed while computing resource inputs (${messages.length} distinct error${messages.length === 1 ? "" : "s"}); ` +
          `resources that depend on them were not registered:\n${messages.map((m) => `  - ${m}`).join("\n")}`,
      ),
      ordered,
    );
  }
  return {
    resources: ordered,
    outputs: (redacted ?? {}) as Record<string, unknown>,
    plainOutputPaths,
    secretOutputPaths,
  };
}

function errorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // Each enclosing Output layer adds the same prefix; one says where.
  return message.replace(/^(error serializing property "([^"]+)": )+/, 'error serializing property "$2": ');
}

/** Collects the rejections nobody handled while the program ran. */
class RejectionCollector {
  readonly errors: unknown[] = [];
  private readonly listener = (reason: unknown) => {
    this.errors.push(reason);
  };

  start(): void {
    process.on("unhandledRejection", this.listener);
  }

  stop(): void {
    process.off("unhandledRejection", this.listener);
  }

  /** Lets Node's rejection tracker run, which it does between macrotasks. */
  async settle(): Promise<void> {
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  }
}

async function classifyOutputs(value: unknown, at: string, plain: string[], secret: string[]): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    if (await pulumi.isSecret(value)) {
      secret.push(at);
      return REDACTED;
    }
    // Not an apply: a stack output that failed would hang synth instead of failing it.
    const inner = await outputPromise(value);
    return classifyOutputs(inner, at, plain, secret);
  }
  if (value instanceof Promise) return classifyOutputs(await value, at, plain, secret);
  if (Array.isArray(value)) {
    return Promise.all(value.map((v, i) => classifyOutputs(v, `${at}[${i}]`, plain, secret)));
  }
  if (typeof value === "object" && value !== null && !pulumi.Resource.isInstance(value)) {
    const entries = await Promise.all(
      Object.entries(value).map(
        async ([k, v]) => [k, await classifyOutputs(v, at ? `${at}.${k}` : k, plain, secret)] as const,
      ),
    );
    return Object.fromEntries(entries);
  }
  if (value !== undefined) plain.push(at);
  return value;
}
