/**
 * TEST-ONLY Node.js language host that can do one thing: run a CrossGuard
 * policy pack. Launched by the engine through the `pulumi-language-nodejs`
 * shim next to this file.
 *
 * Why it exists: the Pulumi CLI v3.276.0 no longer execs a
 * `pulumi-analyzer-policy` script for `--policy-pack <dir>`. It reads the
 * pack's PulumiPolicy.yaml (runtime: nodejs) and asks the nodejs language
 * host to RunPlugin(kind "analyzer") (pkg/resource/plugin/plugin.go,
 * ExecPlugin). The real host (sdk/nodejs/cmd/pulumi-language-nodejs) is
 * refused by the Go module proxy, and the engine tier runs the program
 * inline, so nothing else needs a language host. RunPlugin here does what
 * the real host does for a pack: node @pulumi/pulumi/cmd/run-policy-pack
 * <engine-address> <pack directory>, its output streamed back. The pack, its
 * analyzer server and @pulumi/policy are the real ones. Every other method
 * answers UNIMPLEMENTED, so a program can never run through this host.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as languageGrpc from "@pulumi/pulumi/proto/language_grpc_pb";
import * as languageProto from "@pulumi/pulumi/proto/language_pb";
import * as pluginProto from "@pulumi/pulumi/proto/plugin_pb";

/** The CLI's version: the engine may compare it with what it expects. */
const HOST_VERSION = "3.276.0";

function packageRoot(dir: string): string {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    if (fs.existsSync(path.join(at, "package.json"))) return at;
    if (path.dirname(at) === at) return dir;
  }
}

function runPlugin(
  call: grpc.ServerWritableStream<languageProto.RunPluginRequest, languageProto.RunPluginResponse>,
): void {
  const request = call.request;
  if (request.getKind() !== "analyzer") {
    call.destroy(
      Object.assign(
        new Error(`test-only language host: runs policy packs only, not a ${request.getKind() || "program"} plugin`),
        { code: grpc.status.UNIMPLEMENTED },
      ),
    );
    return;
  }
  const packDir = request.getInfo()?.getProgramDirectory() || request.getPwd();
  const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [packDir] });
  const env = Object.fromEntries(
    request.getEnvList().map((entry) => {
      const at = entry.indexOf("=");
      return [entry.slice(0, at), entry.slice(at + 1)];
    }),
  );
  // @pulumi/policy reads the pack's version from ./package.json, so the pack
  // runs in its package root: the nearest directory up from the pack with a
  // package.json (here the repository root; policy/PulumiPolicy.yaml says why).
  const child = spawn(process.execPath, [runner, ...request.getArgsList(), packDir], {
    cwd: packageRoot(packDir),
    env: Object.keys(env).length > 0 ? env : process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const send = (set: (r: languageProto.RunPluginResponse) => void) => {
    const response = new languageProto.RunPluginResponse();
    set(response);
    call.write(response);
  };
  child.stdout.on("data", (chunk: Buffer) => send((r) => r.setStdout(chunk)));
  child.stderr.on("data", (chunk: Buffer) => send((r) => r.setStderr(chunk)));
  child.on("error", (err) => call.destroy(err));
  child.on("close", (code, signal) => {
    send((r) => r.setExitcode(code ?? (signal ? 128 : 1)));
    call.end();
  });
  call.on("cancelled", () => child.kill("SIGTERM"));
}

function getPluginInfo(
  _call: grpc.ServerUnaryCall<unknown, pluginProto.PluginInfo>,
  callback: grpc.sendUnaryData<pluginProto.PluginInfo>,
): void {
  const info = new pluginProto.PluginInfo();
  info.setVersion(HOST_VERSION);
  callback(null, info);
}

function main(): void {
  if (process.argv.includes("--version")) {
    process.stdout.write(`${HOST_VERSION}\n`);
    return;
  }
  const server = new grpc.Server();
  // Methods left out answer UNIMPLEMENTED (grpc-js fills them in).
  server.addService(languageGrpc.LanguageRuntimeService, { runPlugin, getPluginInfo });
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      process.stderr.write(`test-only language host: cannot listen: ${err.message}\n`);
      process.exit(1);
    }
    // The engine reads the port from the first line of stdout.
    process.stdout.write(`${port}\n`);
  });
}

main();
