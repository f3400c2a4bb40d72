/**
 * The HAProxy, keepalived and sshd configs the program writes into cloud-init
 * user data, taken from the real program run on every committed stack (every
 * load balancer, jump host and deploy runner), each checked by the daemon that
 * reads it: `haproxy -c`, `keepalived -t`, `sshd -T`; and each instance's
 * whole cloud-config by cloud-init's own schema check. Debian packages
 * haproxy, keepalived, openssh-server and cloud-init; .ci/run installs them. The text only ever
 * lands in a 0700 scratch directory removed afterwards.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  INSTANCE,
  assertPresent,
  cloudConfigFiles,
  consumerGate,
  findBinary,
  revealedResources,
  run,
  scratchDir,
  type WrittenFile,
} from "./support/consumers";
import { STACKS } from "./support/stacks";

const HAPROXY_CFG = "/etc/haproxy/haproxy.cfg";
const KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf";
const SSHD_SNIPPET = "/etc/ssh/sshd_config.d/50-ske.conf";

const haproxy = findBinary("haproxy");
const keepalived = findBinary("keepalived");
const sshd = findBinary("sshd");
const sshKeygen = findBinary("ssh-keygen");
const cloudInit = findBinary("cloud-init");

let files: WrittenFile[] = [];
let instances: string[] = [];
/** Each distinct `#cloud-config` user data, with the instances that boot from it. */
const userData = new Map<string, string[]>();
const scratch = scratchDir("ske-host-configs-");
let n = 0;
/** Writes rendered text into the scratch directory (0600), under a fresh name. */
const place = (name: string, content: string) => {
  const file = path.join(scratch.dir, `${n++}-${name}`);
  fs.writeFileSync(file, content, { mode: 0o600 });
  return file;
};

beforeAll(async () => {
  files = await cloudConfigFiles();
  const all = (await Promise.all(STACKS.map(revealedResources))).flat().filter((r) => r.type === INSTANCE);
  instances = all.map((r) => `${r.stack}/${r.name}`);
  for (const r of all) {
    const text = r.inputs["userData"];
    if (typeof text === "string" && text.startsWith("#cloud-config\n"))
      userData.set(text, [...(userData.get(text) ?? []), `${r.stack}/${r.name}`]);
  }
}, 90_000);
afterAll(() => scratch.remove());

const written = (filePath: string) => files.filter((f) => f.path === filePath);

describe("the configs handed to the daemons are every one the committed stacks render", () => {
  it("one HAProxy and one keepalived config per load balancer, one sshd snippet per jump host and deploy runner", () => {
    const named = (pattern: RegExp) => instances.filter((i) => pattern.test(i)).sort();
    const of = (filePath: string) =>
      written(filePath)
        .map((f) => `${f.stack}/${f.instance}`)
        .sort();
    expect(named(/-lb-\d+$/).length).toBeGreaterThanOrEqual(2 * STACKS.length);
    expect(of(HAPROXY_CFG)).toEqual(named(/-lb-\d+$/));
    expect(of(KEEPALIVED_CONF)).toEqual(named(/-lb-\d+$/));
    expect(named(/-jumphost$/).length).toBeGreaterThanOrEqual(STACKS.length);
    expect(of(SSHD_SNIPPET)).toEqual(named(/-(jumphost|deploy-runner-\d+)$/));
  });
});

const haproxyGate = consumerGate(haproxy, "haproxy (Debian: apt-get install haproxy)");
describe.skipIf(haproxyGate.skip)("HAProxy configs under `haproxy -c`", () => {
  const check = (text: string) => run(haproxy!, ["-c", "-f", place("haproxy.cfg", text)]);

  it("accepts every load balancer's rendered haproxy.cfg", () => {
    assertPresent(haproxyGate);
    for (const f of written(HAPROXY_CFG)) {
      const result = check(f.content);
      expect(result.status, `${f.stack}/${f.instance}: ${result.output}`).toBe(0);
      expect(result.output).toContain("Configuration file is valid");
    }
  });

  it("rejects a rendered config with a misspelt directive", () => {
    assertPresent(haproxyGate);
    const real = written(HAPROXY_CFG)[0]!.content;
    expect(real).toContain("  balance roundrobin");
    const result = check(real.replace("  balance roundrobin", "  balanse roundrobin"));
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/unknown keyword 'balanse'/);
  });
});

const keepalivedGate = consumerGate(keepalived, "keepalived (Debian: apt-get install keepalived)");
describe.skipIf(keepalivedGate.skip)("keepalived configs under `keepalived -t`", () => {
  /**
   * The config names its interface by a placeholder that the load balancer's
   * own runcmd replaces at boot with the default route's interface, and
   * `keepalived -t` refuses an interface the host lacks. So the check runs
   * that same runcmd line on the scratch copy, here with this host's
   * default-route interface: the text checked is what boot would produce.
   * `keepalived -t` exits 0 when the file is missing, so the file is checked
   * to exist right before, and the rejection test shows it was read.
   */
  const check = (f: WrittenFile, text: string) => {
    const file = place("keepalived.conf", text);
    const substitute = f.runcmd
      .map((c) => (Array.isArray(c) ? c : [c]).map(String))
      .find((c) => c.join(" ").includes(`sed -i`) && c.join(" ").includes(KEEPALIVED_CONF));
    expect(substitute, `${f.instance}: no runcmd line fills in the interface`).toBeDefined();
    execFileSync(
      substitute![0]!,
      substitute!.slice(1).map((a) => a.replaceAll(KEEPALIVED_CONF, file)),
      { stdio: "pipe" },
    );
    expect(fs.readFileSync(file, "utf8")).not.toContain("@SKE_INTERFACE@");
    expect(fs.existsSync(file)).toBe(true);
    return run(keepalived!, ["-t", "-f", file]);
  };

  it("accepts every load balancer's rendered keepalived.conf", () => {
    assertPresent(keepalivedGate);
    for (const f of written(KEEPALIVED_CONF)) {
      const result = check(f, f.content);
      expect(result.status, `${f.stack}/${f.instance}: ${result.output}`).toBe(0);
    }
  });

  it("rejects a rendered config with an unknown keyword", () => {
    assertPresent(keepalivedGate);
    const real = written(KEEPALIVED_CONF)[0]!;
    expect(real.content).toContain("  advert_int 1");
    const result = check(real, real.content.replace("  advert_int 1", "  advert_intt 1"));
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/Unknown keyword 'advert_intt'/);
  });
});

const sshdGate = consumerGate(sshd && sshKeygen, "sshd and ssh-keygen (Debian: apt-get install openssh-server)");
describe.skipIf(sshdGate.skip)("sshd snippets under `sshd -T`", () => {
  let hostKey: string;
  let mainConfig: string;
  beforeAll(() => {
    if (sshdGate.missing) return;
    // A throwaway host key, so the check needs none of the machine's own.
    hostKey = path.join(scratch.dir, "ssh_host_ed25519_key");
    execFileSync(sshKeygen!, ["-q", "-t", "ed25519", "-N", "", "-C", "ske-test", "-f", hostKey], { stdio: "pipe" });
    // The snippet is a drop-in: it only means something inside the distribution's
    // sshd_config, whose Include line pulls it in ahead of the defaults
    // (first value wins in sshd). The consumer's own main config is used,
    // its Include pointed at the scratch copy.
    mainConfig = fs.readFileSync("/etc/ssh/sshd_config", "utf8");
  });

  /**
   * `sshd -T` is `-t` plus the effective settings. Quirk: run as root, sshd
   * also demands its privilege separation directory /run/sshd, which the
   * ssh.service unit creates at start; in CI no daemon starts, so .ci/run
   * creates it.
   */
  const check = (snippet: string) => {
    const dir = fs.mkdtempSync(path.join(scratch.dir, "sshd-"));
    fs.mkdirSync(path.join(dir, "sshd_config.d"));
    fs.writeFileSync(path.join(dir, "sshd_config.d", "50-ske.conf"), snippet, { mode: 0o600 });
    const include = "Include /etc/ssh/sshd_config.d/*.conf";
    expect(mainConfig).toMatch(new RegExp(`^${include.replace(/[.*]/g, "\\$&")}$`, "m"));
    const config = path.join(dir, "sshd_config");
    fs.writeFileSync(config, mainConfig.replace(include, `Include ${path.join(dir, "sshd_config.d")}/*.conf`), {
      mode: 0o600,
    });
    return run(sshd!, ["-T", "-f", config, "-h", hostKey]);
  };

  it("accepts every jump host's and deploy runner's snippet, and each setting is in effect", () => {
    assertPresent(sshdGate);
    for (const f of written(SSHD_SNIPPET)) {
      const result = check(f.content);
      expect(result.status, `${f.stack}/${f.instance}: ${result.output}`).toBe(0);
      const effective = new Set(result.stdout.split("\n"));
      for (const line of f.content.split("\n").filter((l) => l.trim() && !l.startsWith("#"))) {
        const [key, ...value] = line.trim().split(/\s+/);
        expect(effective.has(`${key!.toLowerCase()} ${value.join(" ")}`), `${f.stack}/${f.instance}: ${line}`).toBe(
          true,
        );
      }
    }
  });

  it("rejects a rendered snippet with an unknown option", () => {
    assertPresent(sshdGate);
    const real = written(SSHD_SNIPPET)[0]!.content;
    const result = check(`${real}PermitRootLogn no\n`);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/Bad configuration option: PermitRootLogn/);
  });
});

const cloudInitGate = consumerGate(cloudInit, "cloud-init (Debian: apt-get install cloud-init)");
describe.skipIf(cloudInitGate.skip)("cloud-configs under cloud-init's own schema check", () => {
  /**
   * `cloud-init schema --config-file` takes one file and starts Python each
   * time (about a second apiece here). So one interpreter, the one the
   * cloud-init command runs on, calls the command's own handler
   * (handle_schema_args) once per file. Quirk of cloud-init 22.4: a misspelt
   * top-level key is not an error, only wrong types and values inside known
   * modules are; test/cluster-load-balancer.test.ts and
   * test/deploy-runner.test.ts pin the key sets.
   */
  const DRIVER = [
    "import sys",
    "from cloudinit.config.schema import get_parser, handle_schema_args",
    "sys.stderr = sys.stdout",
    "for path in sys.argv[1:]:",
    "    print('>>>', path)",
    "    try:",
    "        handle_schema_args('cloudconfig-schema', get_parser().parse_args(['--config-file', path]))",
    "        print('<<< 0')",
    "    except SystemExit as exit:",
    "        print('<<<', exit.code)",
  ].join("\n");
  const check = (texts: readonly string[]) => {
    const interpreter = /^#!(\S+)/.exec(fs.readFileSync(cloudInit!, "utf8").split("\n")[0]!)?.[1];
    expect(interpreter, `${cloudInit} is not a script`).toBeDefined();
    const paths = texts.map((t) => place("user-data.yaml", t));
    const result = run(interpreter!, ["-c", DRIVER, ...paths]);
    expect(result.status, result.output).toBe(0);
    return paths.map((p) => {
      const section = new RegExp(
        `^>>> ${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\n([\\s\\S]*?)^<<< (\\S+)$`,
        "m",
      ).exec(result.stdout);
      expect(section, `no verdict for ${p}: ${result.output}`).not.toBeNull();
      return { output: section![1]!, code: section![2]! };
    });
  };

  it("accepts every instance's rendered cloud-config of every committed stack, without deprecations", () => {
    assertPresent(cloudInitGate);
    const texts = [...userData.keys()];
    expect([...userData.values()].flat().sort()).toEqual(
      instances.filter((i) => /-(lb-\d+|jumphost|deploy-runner-\d+)$/.test(i)).sort(),
    );
    check(texts).forEach((verdict, i) => {
      const who = userData.get(texts[i]!)!.join(", ");
      expect(verdict.code, `${who}: ${verdict.output}`).toBe("0");
      expect(verdict.output, who).toMatch(/^Valid cloud-config: /m);
      expect(verdict.output, who).not.toMatch(/deprecat/i);
    });
  });

  it("rejects a rendered cloud-config with a value of the wrong type", () => {
    assertPresent(cloudInitGate);
    const real = [...userData.keys()].find((t) => /^package_update: true$/m.test(t))!;
    const [verdict] = check([real.replace(/^package_update: true$/m, "package_update: yes please")]);
    expect(verdict!.code).toBe("1");
    expect(verdict!.output).toMatch(/package_update: 'yes please' is not of type 'boolean'/);
  });
});
