/**
 * Entry point of the STAND-IN OpenStack provider plugin (see provider.ts for
 * why it exists and what it covers). Launched by the engine through the
 * `pulumi-resource-openstack` shim next to this file.
 *
 * It serves with @pulumi/pulumi/provider's `main()`, whose gRPC server
 * implements the resource methods (Check/Diff/Create/Read/Update/Delete,
 * GetPluginInfo) but not provider configuration: CheckConfig and DiffConfig
 * answer UNIMPLEMENTED and Configure ignores its arguments, accepting
 * secrets. An explicit `pulumi:providers:openstack` resource needs all three,
 * so they are overlaid on the SDK's service object when it is registered.
 *
 *   pulumi-resource-openstack <engine-address>   serve (what the engine runs)
 *   pulumi-resource-openstack --version          print the version, exit
 */
import * as grpc from "@grpc/grpc-js";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import * as pulumiProvider from "@pulumi/pulumi/provider";
import { authenticate, CREDENTIAL_KEYS, resolveAuth } from "./auth";
import { StandInOpenStackProvider, STAND_IN_VERSION } from "./provider";

/** Provider config the stand-in understands; anything else fails CheckConfig by name. */
const CONFIG_KEYS = new Set<string>(["region", "cloud", "delayedAuth", "version", ...CREDENTIAL_KEYS]);
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

type Config = Record<string, unknown>;

/** `openstack:config:region` / `openstack:region` → `region`. */
const configKey = (key: string) => key.split(":").pop()!;

/** The SDK JSON-encodes non-string provider inputs ("true"); accept both forms. */
function booleanOf(value: unknown): boolean | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "boolean") return value;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new Error(`expected true or false, got ${JSON.stringify(value)}`);
}

export function configProblems(news: Config): { property: string; reason: string }[] {
  const problems: { property: string; reason: string }[] = [];
  for (const [key, value] of Object.entries(news)) {
    if (!CONFIG_KEYS.has(key)) {
      problems.push({ property: key, reason: `provider config "${key}" is not implemented by the stand-in OpenStack provider` });
    } else if (key === "delayedAuth" && value !== UNKNOWN) {
      try {
        booleanOf(value);
      } catch (err) {
        problems.push({ property: key, reason: (err as Error).message });
      }
    }
  }
  return problems;
}

function configFromRequest(request: provproto.ConfigureRequest): Config {
  const args = request.getArgs()?.toJavaScript();
  if (args && Object.keys(args).length > 0) return args as Config;
  const config: Config = {};
  request.getVariablesMap().forEach((value, key) => {
    config[configKey(key)] = value;
  });
  return config;
}

const provider = new StandInOpenStackProvider();

const overlay = {
  checkConfig(call: grpc.ServerUnaryCall<provproto.CheckRequest, provproto.CheckResponse>, callback: grpc.sendUnaryData<provproto.CheckResponse>) {
    const news = (call.request.getNews()?.toJavaScript() ?? {}) as Config;
    const response = new provproto.CheckResponse();
    response.setInputs(structproto.Struct.fromJavaScript(news as Record<string, structproto.JavaScriptValue>));
    response.setFailuresList(configProblems(news).map(({ property, reason }) => {
      const failure = new provproto.CheckFailure();
      failure.setProperty(property);
      failure.setReason(reason);
      return failure;
    }));
    callback(null, response);
  },

  diffConfig(call: grpc.ServerUnaryCall<provproto.DiffRequest, provproto.DiffResponse>, callback: grpc.sendUnaryData<provproto.DiffResponse>) {
    const olds = (call.request.getOlds()?.toJavaScript() ?? {}) as Config;
    const news = (call.request.getNews()?.toJavaScript() ?? {}) as Config;
    // `version` follows the plugin; no config change replaces the provider
    // (its resources keep their ids whichever credentials reach them).
    const changed = [...new Set([...Object.keys(olds), ...Object.keys(news)])]
      .filter((key) => key !== "version" && JSON.stringify(olds[key] ?? null) !== JSON.stringify(news[key] ?? null));
    const response = new provproto.DiffResponse();
    response.setChanges(changed.length > 0 ? provproto.DiffResponse.DiffChanges.DIFF_SOME : provproto.DiffResponse.DiffChanges.DIFF_NONE);
    response.setDiffsList(changed);
    callback(null, response);
  },

  configure(call: grpc.ServerUnaryCall<provproto.ConfigureRequest, provproto.ConfigureResponse>, callback: grpc.sendUnaryData<provproto.ConfigureResponse>) {
    const config = configFromRequest(call.request);
    const text = (key: string) => {
      const value = config[key];
      return typeof value === "string" && value !== "" && value !== UNKNOWN ? value : undefined;
    };
    const credentials = Object.fromEntries(
      [...CREDENTIAL_KEYS, "cloud"].flatMap((key) => (text(key) ? [[key, text(key)!]] : [])),
    );
    const region = text("region") ?? process.env.OS_REGION_NAME;
    provider
      .configure({
        ...(region ? { region } : {}),
        delayedAuth: booleanOf(config.delayedAuth === UNKNOWN ? undefined : config.delayedAuth) ?? booleanOf(process.env.OS_DELAYED_AUTH) ?? false,
        connect: () => authenticate(resolveAuth(credentials)),
      })
      .then(() => {
        const response = new provproto.ConfigureResponse();
        // Plain values only: the engine strips secrets and resource
        // references before calling us, and re-applies secretness itself.
        response.setAcceptsecrets(false);
        response.setAcceptresources(false);
        response.setAcceptoutputs(false);
        response.setSupportspreview(false);
        callback(null, response);
      })
      .catch((err: Error) => callback({ code: grpc.status.FAILED_PRECONDITION, details: `stand-in OpenStack provider: ${err.message}` }, null));
  },
};

/** Registers the overlay on the SDK's ResourceProvider service, and nothing else. */
function overlayProviderConfiguration(): void {
  const addService = grpc.Server.prototype.addService;
  grpc.Server.prototype.addService = function (this: grpc.Server, service, implementation) {
    if ("checkConfig" in service && "configure" in service) Object.assign(implementation, overlay);
    return addService.call(this, service, implementation);
  };
}

if (process.argv.includes("--version")) {
  process.stdout.write(`${STAND_IN_VERSION}\n`);
} else {
  overlayProviderConfiguration();
  void pulumiProvider.main(provider, process.argv.slice(2));
}
