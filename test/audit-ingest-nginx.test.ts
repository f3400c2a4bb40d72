/**
 * The ingest gateway's rendered nginx config, run by a real nginx against a
 * stand-in Loki: what it admits, what it refuses, and that the credential
 * stops at the gateway. Needs `nginx` and `openssl` on PATH (Debian:
 * nginx-light); skipped, and named as skipped, where they are missing.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INGEST_GATEWAY_PORT, LOKI_PUSH_PATH, htpasswdLine, nginxConfig } from "../components/audit-trail";

const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const available = has("nginx") && has("openssl");

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.skipIf(!available)("the ingest gateway under a real nginx", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ske-ingest-"));
  const password = "p".repeat(32) + "0123456789";
  const seen: { path: string; authorization: string | undefined; body: string }[] = [];
  let loki: http.Server;
  let nginx: ReturnType<typeof spawn>;
  let port: number;

  beforeAll(async () => {
    loki = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        seen.push({ path: req.url ?? "", authorization: req.headers.authorization, body });
        res.writeHead(204);
        res.end();
      });
    });
    await new Promise<void>((resolve) => loki.listen(0, "127.0.0.1", resolve));
    const lokiUrl = `http://127.0.0.1:${(loki.address() as AddressInfo).port}`;
    port = await freePort();

    fs.mkdirSync(path.join(dir, "auth"));
    fs.mkdirSync(path.join(dir, "tls"));
    fs.mkdirSync(path.join(dir, "tmp"));
    // Run as root, nginx's workers drop to an unprivileged user, which must reach these files.
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(path.join(dir, "tmp"), 0o777);
    fs.writeFileSync(path.join(dir, "auth", "htpasswd"), `${htpasswdLine({ user: "test-osl2-mgmt", password })}\n`);
    const cert = spawnSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=loki-ingest-gateway",
      "-keyout",
      path.join(dir, "tls", "tls.key"),
      "-out",
      path.join(dir, "tls", "tls.crt"),
    ]);
    expect(cert.status, cert.stderr.toString()).toBe(0);
    // The rendered config, moved into a scratch prefix: same directives, other paths and port.
    const config = nginxConfig(lokiUrl)
      .replaceAll("/tmp/", `${path.join(dir, "tmp")}/`)
      .replaceAll("/etc/nginx/auth", path.join(dir, "auth"))
      .replaceAll("/etc/nginx/tls", path.join(dir, "tls"))
      .replace(`listen ${INGEST_GATEWAY_PORT} ssl;`, `listen 127.0.0.1:${port} ssl;`);
    fs.writeFileSync(path.join(dir, "nginx.conf"), config);
    const check = spawnSync("nginx", [
      "-t",
      "-p",
      dir,
      "-c",
      path.join(dir, "nginx.conf"),
      "-e",
      path.join(dir, "error.log"),
    ]);
    expect(check.status, check.stderr.toString()).toBe(0);
    nginx = spawn(
      "nginx",
      ["-p", dir, "-c", path.join(dir, "nginx.conf"), "-e", path.join(dir, "error.log"), "-g", "daemon off;"],
      { stdio: "ignore" },
    );
    for (let i = 0; i < 50; i++) {
      if (
        await request("GET", "/healthz").then(
          (r) => r.status === 200,
          () => false,
        )
      )
        return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `nginx did not start: ${fs.existsSync(path.join(dir, "error.log")) ? fs.readFileSync(path.join(dir, "error.log"), "utf8") : ""}`,
    );
  }, 30_000);

  afterAll(async () => {
    nginx?.kill("SIGTERM");
    await new Promise<void>((resolve) => loki.close(() => resolve()));
  });

  function request(method: string, urlPath: string, auth?: string, body = "", tls = true): Promise<{ status: number }> {
    const client = tls ? https : http;
    return new Promise((resolve, reject) => {
      const req = client.request(
        {
          host: "127.0.0.1",
          port,
          method,
          path: urlPath,
          rejectUnauthorized: false,
          headers: {
            ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString("base64")}` } : {}),
            "content-type": "application/json",
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  it("forwards an authenticated push to Loki, without the credential", async () => {
    expect((await request("POST", LOKI_PUSH_PATH, `test-osl2-mgmt:${password}`, '{"streams":[]}')).status).toBe(204);
    expect(seen).toEqual([{ path: LOKI_PUSH_PATH, authorization: undefined, body: '{"streams":[]}' }]);
  });

  it("refuses pushes without or with a wrong credential, and any method but POST", async () => {
    seen.length = 0;
    expect((await request("POST", LOKI_PUSH_PATH)).status).toBe(401);
    expect((await request("POST", LOKI_PUSH_PATH, `test-osl2-mgmt:${"x".repeat(42)}`)).status).toBe(401);
    expect((await request("POST", LOKI_PUSH_PATH, `production-osl2-ops:${password}`)).status).toBe(401);
    expect((await request("GET", LOKI_PUSH_PATH, `test-osl2-mgmt:${password}`)).status).toBe(403);
    expect(seen).toEqual([]);
  });

  it("does not expose the query, tail, label or delete APIs, even with a valid credential", async () => {
    for (const p of [
      "/loki/api/v1/query_range?query=%7Bjob%3D%22x%22%7D",
      "/loki/api/v1/tail",
      "/loki/api/v1/labels",
      "/loki/api/v1/delete",
      "/ready",
      "/metrics",
    ]) {
      expect((await request("GET", p, `test-osl2-mgmt:${password}`)).status, p).toBe(404);
    }
    expect(seen).toEqual([]);
  });

  it("speaks only TLS", async () => {
    const plain = await request("POST", LOKI_PUSH_PATH, `test-osl2-mgmt:${password}`, "", false).then(
      (r) => r.status,
      () => "refused",
    );
    expect(plain).toBe(400);
    expect(seen).toEqual([]);
  });
});
