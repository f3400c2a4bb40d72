/**
 * etcd and kube-apiserver from the toolchain cache (scripts/toolchain/build.sh
 * kube-apiserver etcd), started per run on 127.0.0.1 on free ephemeral ports
 * (never the OpenStack lab's fixed ones), in a 0700 temp directory, and
 * stopped by PID.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { REPO_ROOT } from "../../../config/load";
import type { CertFiles } from "./pki";
import { issue, newCa, serviceAccountKeys } from "./pki";

export const BUILD_COMMAND = "bash scripts/toolchain/build.sh kube-apiserver etcd";

/** The version build.sh builds and caches a component under: one pin, in build.sh's SPEC table. */
function pinnedVersion(name: string): string {
  const buildScript = fs.readFileSync(path.join(REPO_ROOT, "scripts", "toolchain", "build.sh"), "utf8");
  const spec = new RegExp(`^SPEC\\[${name}\\]="([^"]*)"`, "m").exec(buildScript)?.[1];
  const version = spec?.split("|")[5];
  if (!version) throw new Error(`scripts/toolchain/build.sh has no SPEC[${name}] with a version`);
  return version;
}

export const KUBE_APISERVER_VERSION = pinnedVersion("kube-apiserver");
export const ETCD_VERSION = pinnedVersion("etcd");

const TOOLCHAIN = process.env.SKE_TOOLCHAIN_CACHE ?? path.join(os.homedir(), ".cache", "ske-platform", "toolchain");
export const BINARIES = {
  kubeApiserver: path.join(TOOLCHAIN, "bin", `kube-apiserver-v${KUBE_APISERVER_VERSION}`, "kube-apiserver"),
  etcd: path.join(TOOLCHAIN, "bin", `etcd-v${ETCD_VERSION}`, "etcd"),
};

/** Null when both binaries are built; otherwise what is missing and how to build it. */
export function missingBinaries(): string | null {
  const missing = Object.values(BINARIES).filter((file) => !fs.existsSync(file));
  return missing.length === 0 ? null : `not built: ${missing.join(", ")}; run \`${BUILD_COMMAND}\``;
}

/**
 * A free port below the kernel's ephemeral range (32768-60999 here), so that no
 * outgoing connection takes it between this check and the bind, and away from
 * the OpenStack lab's fixed ports (5000, 9696, 8774, 8778, 9292, 5672, 4369, 25672).
 */
async function freePort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = 20000 + Math.floor(Math.random() * 5000);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) {
      taken.add(port);
      return port;
    }
  }
  throw new Error("no free port in 127.0.0.1:20000-24999");
}

export interface Identity {
  /** A client certificate. */
  cert?: CertFiles;
  /** A bearer token. */
  token?: string;
  /** Impersonation headers (the caller must be allowed to impersonate). */
  impersonate?: { user: string; groups: readonly string[] };
}

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  text: string;
}

export interface KubeApiServer {
  dir: string;
  url: string;
  auditLog: string;
  /** O=system:masters, as `talosctl kubeconfig` hands out: bypasses RBAC, not admission. */
  masters: CertFiles;
  /** The program's deploy identity: CN=ske-platform, O=ske:platform-admins (components/cluster). */
  deployIdentity(user: string, group: string): CertFiles;
  request<T = Record<string, unknown>>(
    as: Identity,
    method: string,
    urlPath: string,
    body?: unknown,
    contentType?: string,
  ): Promise<ApiResponse<T>>;
  pids: { etcd: number; apiserver: number };
  /** Seconds from spawning etcd to kube-apiserver's /readyz answering ok. */
  startSeconds: number;
  /** Resident memory of each process now, in MiB. */
  rssMiB(): { etcd: number; apiserver: number };
  stop(): Promise<void>;
}

export interface StartOptions {
  /** The AuthenticationConfiguration to start with (an object, written as YAML). */
  authenticationConfiguration: unknown;
  /** The audit policy to start with. */
  auditPolicy: unknown;
  /** Progress lines (ports, PIDs, start time). */
  log?: (line: string) => void;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  process.kill(child.pid, "SIGTERM");
  if (!(await waitExit(child, 10_000))) {
    process.kill(child.pid, "SIGKILL");
    await waitExit(child, 5_000);
  }
}

const rssOf = (pid: number | undefined) => {
  if (pid === undefined) return 0;
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kib / 1024);
};

/** The working directory for one run: 0700, so keys and the audit log stay private. */
export function runDirectory(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ske-kube-apiserver-"));
  fs.chmodSync(dir, 0o700);
  return dir;
}

export async function startKubeApiServer(dir: string, options: StartOptions): Promise<KubeApiServer> {
  const log = options.log ?? (() => {});
  const pki = path.join(dir, "pki");
  fs.mkdirSync(pki, { mode: 0o700 });
  const ca = newCa(pki, "cluster-ca", "ske test cluster CA");
  const serving = issue(pki, ca, "apiserver", { cn: "kube-apiserver" }, "server", ["127.0.0.1"]);
  const masters = issue(pki, ca, "masters", { cn: "talos-break-glass", o: ["system:masters"] }, "client");
  const sa = serviceAccountKeys(pki);
  const identities = new Map<string, CertFiles>();
  const deployIdentity = (user: string, group: string) => {
    const key = `${user}/${group}`;
    if (!identities.has(key))
      identities.set(key, issue(pki, ca, `client-${identities.size}`, { cn: user, o: [group] }, "client"));
    return identities.get(key)!;
  };

  const authFile = path.join(dir, "authentication-config.yaml");
  fs.writeFileSync(authFile, stringify(options.authenticationConfiguration));
  const policyFile = path.join(dir, "audit-policy.yaml");
  fs.writeFileSync(policyFile, stringify(options.auditPolicy));
  const auditLog = path.join(dir, "audit", "kube-apiserver.log");
  fs.mkdirSync(path.dirname(auditLog), { mode: 0o700 });

  const launch = async (attempt: number): Promise<KubeApiServer> => {
    const taken = new Set<number>();
    const [etcdClient, etcdPeer, securePort] = [await freePort(taken), await freePort(taken), await freePort(taken)];
    const started = process.hrtime.bigint();
    const etcdLog = fs.openSync(path.join(dir, "etcd.log"), "a");
    const etcd = spawn(
      BINARIES.etcd,
      [
        "--name",
        "ske-test",
        "--data-dir",
        path.join(dir, `etcd-${attempt}`),
        "--listen-client-urls",
        `http://127.0.0.1:${etcdClient}`,
        "--advertise-client-urls",
        `http://127.0.0.1:${etcdClient}`,
        "--listen-peer-urls",
        `http://127.0.0.1:${etcdPeer}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${etcdPeer}`,
        "--initial-cluster",
        `ske-test=http://127.0.0.1:${etcdPeer}`,
        "--log-level",
        "warn",
        // A throw-away store: durability would only cost time on a shared disk.
        "--unsafe-no-fsync",
      ],
      { stdio: ["ignore", etcdLog, etcdLog] },
    );
    const apiserverLog = fs.openSync(path.join(dir, "kube-apiserver.log"), "a");
    let apiserver: ChildProcess | undefined;
    const stop = async () => {
      if (apiserver) await stopChild(apiserver);
      await stopChild(etcd);
    };
    try {
      await until(
        async () => {
          if (etcd.exitCode !== null)
            throw new Error(`etcd exited with ${etcd.exitCode}:\n${tail(path.join(dir, "etcd.log"))}`);
          return (await plainGet(`http://127.0.0.1:${etcdClient}/health`)).includes('"health":"true"');
        },
        60_000,
        "etcd /health",
      );
      log(`etcd ${ETCD_VERSION} healthy on 127.0.0.1:${etcdClient} (pid ${etcd.pid})`);
      apiserver = spawn(
        BINARIES.kubeApiserver,
        [
          `--etcd-servers=http://127.0.0.1:${etcdClient}`,
          "--bind-address=127.0.0.1",
          "--advertise-address=127.0.0.1",
          `--secure-port=${securePort}`,
          `--tls-cert-file=${serving.cert}`,
          `--tls-private-key-file=${serving.key}`,
          `--client-ca-file=${ca.cert}`,
          `--authentication-config=${authFile}`,
          "--authorization-mode=RBAC",
          `--audit-policy-file=${policyFile}`,
          `--audit-log-path=${auditLog}`,
          `--service-account-issuer=https://kubernetes.default.svc`,
          `--service-account-key-file=${sa.publicKey}`,
          `--service-account-signing-key-file=${sa.privateKey}`,
          "--service-cluster-ip-range=10.96.0.0/24",
          // No node, controller-manager or scheduler: nothing else reconciles endpoints.
          "--endpoint-reconciler-type=none",
          `--cert-dir=${path.join(dir, "certs")}`,
          "--profiling=false",
          "--v=1",
        ],
        { stdio: ["ignore", apiserverLog, apiserverLog] },
      );
      const url = `https://127.0.0.1:${securePort}`;
      const request = makeRequest(url, ca.cert);
      await until(
        async () => {
          if (apiserver!.exitCode !== null)
            throw new Error(
              `kube-apiserver exited with ${apiserver!.exitCode}:\n${tail(path.join(dir, "kube-apiserver.log"))}`,
            );
          const ready = await request({ cert: masters }, "GET", "/readyz").catch(() => undefined);
          return ready?.status === 200;
        },
        180_000,
        "kube-apiserver /readyz",
      );
      const startSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      log(
        `kube-apiserver ${KUBE_APISERVER_VERSION} ready at ${url} (pid ${apiserver.pid}) ${startSeconds.toFixed(1)} s after etcd was spawned`,
      );
      return {
        dir,
        url,
        auditLog,
        masters,
        deployIdentity,
        request,
        pids: { etcd: etcd.pid!, apiserver: apiserver.pid! },
        startSeconds,
        rssMiB: () => ({ etcd: rssOf(etcd.pid), apiserver: rssOf(apiserver!.pid) }),
        stop,
      };
    } catch (error) {
      await stop();
      throw error;
    }
  };
  // A port checked free can still be taken before the bind (other test runs
  // share the machine): start again on other ports, twice at most.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(attempt);
    } catch (error) {
      if (attempt >= 3 || !String(error).includes("address already in use")) throw error;
      log(`attempt ${attempt}: a port was taken before the bind; starting again on other ports`);
    }
  }
}

/** The last lines of a log, without kube-apiserver's dump of its flags. */
function tail(file: string, lines = 30): string {
  if (!fs.existsSync(file)) return "";
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => !l.includes("flags.go"))
    .slice(-lines)
    .join("\n");
}

async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (
      await check().catch((e: unknown) => {
        if (e instanceof Error && e.message.includes("exited")) throw e;
        return false;
      })
    )
      return;
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function plainGet(url: string): Promise<string> {
  return fetch(url).then((r) => r.text());
}

function makeRequest(base: string, caFile: string) {
  const ca = fs.readFileSync(caFile);
  const agent = new https.Agent({ ca, keepAlive: true, maxSockets: 16 });
  const certAgents = new Map<string, https.Agent>();
  const agentFor = (cert?: CertFiles) => {
    if (!cert) return agent;
    if (!certAgents.has(cert.cert)) {
      certAgents.set(
        cert.cert,
        new https.Agent({
          ca,
          cert: fs.readFileSync(cert.cert),
          key: fs.readFileSync(cert.key),
          keepAlive: true,
          maxSockets: 16,
        }),
      );
    }
    return certAgents.get(cert.cert)!;
  };
  return function request<T>(
    as: Identity,
    method: string,
    urlPath: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string | string[]> = { accept: "application/json" };
    if (as.token) headers.authorization = `Bearer ${as.token}`;
    if (as.impersonate) {
      headers["impersonate-user"] = as.impersonate.user;
      headers["impersonate-group"] = [...as.impersonate.groups];
    }
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    if (payload !== undefined) headers["content-type"] = contentType;
    return new Promise((resolve, reject) => {
      const req = https.request(`${base}${urlPath}`, { method, headers, agent: agentFor(as.cert) }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : {};
          } catch {
            parsed = { raw: text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T, text });
        });
      });
      req.on("error", reject);
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${urlPath}: no answer in 30 s`)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  };
}
