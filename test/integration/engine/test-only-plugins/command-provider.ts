/**
 * TEST-ONLY pulumi-resource-command: answers what a preview asks (config,
 * Check, Diff) and refuses to run anything. Launched by the engine through
 * the `pulumi-resource-command` shim next to this file.
 *
 * Why it exists: pulumi-command is not served by the Go module proxy in any
 * form (provider, sdk and pulumi-go-provider are all refused), and keeping
 * the program's command resources out of the previews would also keep their
 * inputs from the CrossGuard pack, which judges one of them (the audit
 * archive's object-lock reconcile, policy/project-separation.ts). See
 * docs/decisions/command-provider-in-previews.md.
 *
 * Check holds the inputs to the shape of @pulumi/command 1.2.1 (names and
 * value types), so a misspelt or mistyped input fails the preview as the
 * real provider's Check would. Create, Update, Read and Delete fail: this
 * plugin must never be mistaken for a way to deploy.
 */
import * as grpc from "@grpc/grpc-js";
import * as emptyProto from "google-protobuf/google/protobuf/empty_pb";
import * as structProto from "google-protobuf/google/protobuf/struct_pb";
import * as pluginProto from "@pulumi/pulumi/proto/plugin_pb";
import * as providerGrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as providerProto from "@pulumi/pulumi/proto/provider_pb";
import { checkCommandInputs, COMMAND_PLUGIN_VERSION } from "./command-inputs";

/** The resource's own type: the last of the `parent$child` types in its URN. */
const typeOfUrn = (urn: string) => (urn.split("::")[2] ?? "").split("$").pop()!;
const plain = (s: structProto.Struct | undefined) => (s?.toJavaScript() ?? {}) as Record<string, unknown>;
const refuse = (what: string) => ({
  code: grpc.status.FAILED_PRECONDITION,
  details: `TEST-ONLY command provider: ${what} refused; it only answers previews and never runs a command`,
});

function changedKeys(olds: Record<string, unknown>, news: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter(
    (key) => !key.startsWith("__") && JSON.stringify(olds[key] ?? null) !== JSON.stringify(news[key] ?? null),
  );
}

const service = {
  getPluginInfo(_call: unknown, callback: grpc.sendUnaryData<pluginProto.PluginInfo>) {
    const info = new pluginProto.PluginInfo();
    info.setVersion(COMMAND_PLUGIN_VERSION);
    callback(null, info);
  },
  getSchema(_call: unknown, callback: grpc.sendUnaryData<providerProto.GetSchemaResponse>) {
    const response = new providerProto.GetSchemaResponse();
    response.setSchema(JSON.stringify({ name: "command", version: COMMAND_PLUGIN_VERSION }));
    callback(null, response);
  },
  checkConfig(
    call: grpc.ServerUnaryCall<providerProto.CheckRequest, providerProto.CheckResponse>,
    callback: grpc.sendUnaryData<providerProto.CheckResponse>,
  ) {
    const response = new providerProto.CheckResponse();
    response.setInputs(call.request.getNews());
    callback(null, response);
  },
  diffConfig(
    call: grpc.ServerUnaryCall<providerProto.DiffRequest, providerProto.DiffResponse>,
    callback: grpc.sendUnaryData<providerProto.DiffResponse>,
  ) {
    const changed = changedKeys(plain(call.request.getOlds()), plain(call.request.getNews())).filter(
      (key) => key !== "version",
    );
    const response = new providerProto.DiffResponse();
    response.setChanges(
      changed.length > 0
        ? providerProto.DiffResponse.DiffChanges.DIFF_SOME
        : providerProto.DiffResponse.DiffChanges.DIFF_NONE,
    );
    response.setDiffsList(changed);
    callback(null, response);
  },
  configure(_call: unknown, callback: grpc.sendUnaryData<providerProto.ConfigureResponse>) {
    const response = new providerProto.ConfigureResponse();
    // Plain values only: the engine strips secrets before Check and re-applies them.
    response.setAcceptsecrets(false);
    response.setAcceptresources(false);
    response.setSupportspreview(false);
    callback(null, response);
  },
  check(
    call: grpc.ServerUnaryCall<providerProto.CheckRequest, providerProto.CheckResponse>,
    callback: grpc.sendUnaryData<providerProto.CheckResponse>,
  ) {
    const news = plain(call.request.getNews());
    const response = new providerProto.CheckResponse();
    response.setInputs(call.request.getNews());
    response.setFailuresList(
      checkCommandInputs(typeOfUrn(call.request.getUrn()), news).map(({ property, reason }) => {
        const failure = new providerProto.CheckFailure();
        failure.setProperty(property);
        failure.setReason(reason);
        return failure;
      }),
    );
    callback(null, response);
  },
  diff(
    call: grpc.ServerUnaryCall<providerProto.DiffRequest, providerProto.DiffResponse>,
    callback: grpc.sendUnaryData<providerProto.DiffResponse>,
  ) {
    const changed = changedKeys(plain(call.request.getOlds()), plain(call.request.getNews()));
    const response = new providerProto.DiffResponse();
    response.setChanges(
      changed.length > 0
        ? providerProto.DiffResponse.DiffChanges.DIFF_SOME
        : providerProto.DiffResponse.DiffChanges.DIFF_NONE,
    );
    response.setDiffsList(changed);
    // As upstream: a trigger change replaces the command, anything else updates it.
    response.setReplacesList(changed.filter((key) => key === "triggers"));
    callback(null, response);
  },
  create(_call: unknown, callback: grpc.sendUnaryData<never>) {
    callback(refuse("Create"), null);
  },
  update(_call: unknown, callback: grpc.sendUnaryData<never>) {
    callback(refuse("Update"), null);
  },
  read(_call: unknown, callback: grpc.sendUnaryData<never>) {
    callback(refuse("Read"), null);
  },
  delete(_call: unknown, callback: grpc.sendUnaryData<never>) {
    callback(refuse("Delete"), null);
  },
  cancel(_call: unknown, callback: grpc.sendUnaryData<emptyProto.Empty>) {
    callback(null, new emptyProto.Empty());
  },
};

function main(): void {
  if (process.argv.includes("--version")) {
    process.stdout.write(`${COMMAND_PLUGIN_VERSION}\n`);
    return;
  }
  const server = new grpc.Server();
  server.addService(providerGrpc.ResourceProviderService, service);
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      process.stderr.write(`test-only command provider: cannot listen: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`${port}\n`);
  });
}

main();
