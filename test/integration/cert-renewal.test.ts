/**
 * `pulumi up` renews a client certificate once it is in its renewal window:
 * the real Pulumi CLI and the real tls provider plugin (5.6.1, from the
 * toolchain cache), on a local file backend. No lab needed.
 *
 * Two certificates signed like clientCertificate() signs them: one well
 * outside its window (valid 3 h, renewal in the last 1 h) and one already in
 * it (valid 1 h, renewal in the last 1 h). An unchanged program must plan a
 * replacement for the second only, and the up must issue it anew, because
 * the provider decides readiness while planning (ModifyPlan), not on refresh.
 *
 *   npx vitest run --config test/integration/vitest.config.mts test/integration/cert-renewal.test.ts
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, PulumiCommand } from "@pulumi/pulumi/automation";
import * as tls from "@pulumi/tls";
import { describe, expect, it } from "vitest";

const TOOLCHAIN = process.env.SKE_TOOLCHAIN_CACHE ?? path.join(os.homedir(), ".cache", "ske-platform", "toolchain");
const CLI_DIR = path.join(TOOLCHAIN, "bin", "pulumi-v3.276.0");
const TLS_PLUGIN = path.join(TOOLCHAIN, "bin", "tls-v5.6.1", "pulumi-resource-tls");
const ready = fs.existsSync(path.join(CLI_DIR, "pulumi")) && fs.existsSync(TLS_PLUGIN);

function program() {
  const caKey = new tls.PrivateKey("ca-key", { algorithm: "ED25519" });
  const ca = new tls.SelfSignedCert("ca", {
    privateKeyPem: caKey.privateKeyPem,
    isCaCertificate: true,
    validityPeriodHours: 24,
    allowedUses: ["cert_signing"],
    subject: { commonName: "renewal test CA" },
  });
  const cert = (name: string, validityPeriodHours: number, earlyRenewalHours: number) => {
    const key = new tls.PrivateKey(`${name}-key`, { algorithm: "ED25519" });
    const csr = new tls.CertRequest(`${name}-csr`, {
      privateKeyPem: key.privateKeyPem,
      subject: { commonName: name, organization: "os:admin" },
    });
    return new tls.LocallySignedCert(name, {
      certRequestPem: csr.certRequestPem,
      caCertPem: ca.certPem,
      caPrivateKeyPem: caKey.privateKeyPem,
      validityPeriodHours,
      earlyRenewalHours,
      allowedUses: ["digital_signature", "key_encipherment", "client_auth"],
    });
  };
  const outside = cert("outside-window", 3, 1);
  const inside = cert("inside-window", 1, 1);
  return Promise.resolve({
    outside: pulumi.secret(outside.certPem),
    inside: pulumi.secret(inside.certPem),
    insideReady: inside.readyForRenewal,
    outsideReady: outside.readyForRenewal,
  });
}

describe.skipIf(!ready)("client certificate renewal with the real engine and tls provider", () => {
  it("plans and performs a replacement only for the certificate in its renewal window", async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "cert-renewal-"));
    const home = path.join(work, "home");
    fs.mkdirSync(path.join(home, "plugins", "resource-tls-v5.6.1"), { recursive: true });
    fs.symlinkSync(TLS_PLUGIN, path.join(home, "plugins", "resource-tls-v5.6.1", "pulumi-resource-tls"));
    fs.mkdirSync(path.join(work, "state"));
    try {
      process.env.PATH = `${CLI_DIR}:${process.env.PATH ?? ""}`;
      const pulumiCommand = await PulumiCommand.get({ skipVersionCheck: true });
      const stack = await LocalWorkspace.createOrSelectStack(
        { projectName: "cert-renewal", stackName: "renewal", program },
        {
          workDir: work,
          pulumiHome: home,
          pulumiCommand,
          secretsProvider: "passphrase",
          projectSettings: {
            name: "cert-renewal",
            runtime: "nodejs",
            backend: { url: `file://${path.join(work, "state")}` },
          },
          envVars: {
            PULUMI_CONFIG_PASSPHRASE: "renewal-test-only",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
          },
        },
      );
      const first = await stack.up();
      const before = { inside: first.outputs.inside!.value as string, outside: first.outputs.outside!.value as string };

      const replaced: string[] = [];
      const preview = await stack.preview({
        onEvent: (event) => {
          const step = event.resourcePreEvent?.metadata;
          if (step && step.op === "replace") replaced.push(step.urn);
        },
      });
      // Nothing in the program changed; the provider alone asks for the new certificate.
      expect(preview.changeSummary.replace).toBe(1);
      expect(replaced).toHaveLength(1);
      expect(replaced[0]).toMatch(/tls:index\/locallySignedCert:LocallySignedCert::inside-window$/);

      const second = await stack.up();
      expect(second.outputs.inside!.value).not.toBe(before.inside);
      expect(second.outputs.outside!.value).toBe(before.outside);
      await stack.destroy();
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
