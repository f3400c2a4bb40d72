import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { BOOTSTRAP_ENV, bootstrapScript } from "../components/cluster/bootstrap";
import { renderKubeconfig, renderTalosconfig } from "../components/talos/client-config";

const credentials = {
  caCertPem: "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n",
  clientCertPem: "-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n",
  clientKeyPem: "-----BEGIN EC PRIVATE KEY-----\nkey\n-----END EC PRIVATE KEY-----\n",
};
const decode = (b64: string) => Buffer.from(b64, "base64").toString("utf8");

describe("kubeconfig", () => {
  it("is built from our own CA and client certificate and points at the VIP", () => {
    const config = parse(
      renderKubeconfig({
        clusterName: "test-osl2-ops",
        endpoint: "https://10.34.0.4:6443",
        user: "ske-platform",
        ...credentials,
      }),
    );
    const cluster = config.clusters[0].cluster;
    expect(cluster.server).toBe("https://10.34.0.4:6443");
    expect(decode(cluster["certificate-authority-data"])).toBe(credentials.caCertPem);
    const user = config.users[0].user;
    expect(decode(user["client-certificate-data"])).toBe(credentials.clientCertPem);
    expect(decode(user["client-key-data"])).toBe(credentials.clientKeyPem);
    expect(config.contexts.map((c: { name: string }) => c.name)).toContain(config["current-context"]);
  });
});

describe("talosconfig", () => {
  it("talks to the control-plane nodes with our Talos CA and client certificate", () => {
    const config = parse(
      renderTalosconfig({ clusterName: "test-osl2-ops", endpoints: ["10.34.1.1", "10.34.1.2"], ...credentials }),
    );
    const context = config.contexts[config.context];
    expect(context.endpoints).toEqual(["10.34.1.1", "10.34.1.2"]);
    expect(decode(context.ca)).toBe(credentials.caCertPem);
    expect(decode(context.crt)).toBe(credentials.clientCertPem);
    expect(decode(context.key)).toBe(credentials.clientKeyPem);
  });
});

describe("bootstrap script", () => {
  const script = bootstrapScript();

  it("checks for talosctl first and fails with a message that says what to do", () => {
    const check = script.indexOf("command -v talosctl");
    expect(check).toBeGreaterThanOrEqual(0);
    expect(check).toBeLessThan(script.indexOf("talosctl --talosconfig"));
    expect(script).toMatch(/talosctl is not on PATH: install it/);
    expect(script).toMatch(/exit 127/);
  });

  it("reads the talosconfig from the environment into a private temp file, never from argv", () => {
    expect(script).toContain("umask 077");
    expect(script).toContain(`printf '%s' "\${${BOOTSTRAP_ENV.talosconfig}}" > "$config"`);
    expect(script).toMatch(/trap 'rm -f "\$config"' EXIT/);
    // talosctl gets a path, never the content.
    const invocation = script.split("\n").find((line) => line.includes("talosctl --talosconfig"))!;
    expect(invocation).toContain('--talosconfig "$config"');
    expect(invocation).not.toContain(BOOTSTRAP_ENV.talosconfig);
  });
});
