import { describe, expect, it } from "vitest";
import { ConfigError, loadPlatformConfig, readAddressPlan, type ConfigProblem } from "../config/load";
import { collectorValues } from "../components/audit-trail/collector-values";
import { fakeState } from "../synth/fake-state";
import { revealSecrets, runProgram } from "../synth/mock-runtime";
import { readStackFile } from "../config/stack-file";
import { variantFile } from "./support/stacks";
import { within } from "./support/timed";

const NS = "ske-platform:";
const TOKEN = "SIEM-TOKEN-7f3a9c1e-only-in-the-secret";
const withSiemAuth = (c: Record<string, any>) => {
  c[`${NS}audit`].siem = {
    endpoint: "https://siem.example.net:8088/services/collector",
    format: "json",
    auth: { scheme: "Splunk" },
  };
  c[`${NS}siemToken`] = { secure: "v1:AAAAAAAAAAAAAAAA:ciphertext" };
};

function problems(stackFile: ReturnType<typeof readStackFile>): ConfigProblem[] {
  try {
    loadPlatformConfig(stackFile, readAddressPlan());
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

async function program(): Promise<unknown> {
  const mod = (await import("../stacks/index.js")) as unknown as { default?: () => Promise<unknown> };
  return (mod.default ?? (mod as unknown as () => Promise<unknown>))();
}

describe("the SIEM authenticates the collectors with a secret, never with a credential in its URL", () => {
  it("puts the token only into each collector's Kubernetes Secret, and only a reference to it into the Helm values", async () => {
    const stackFile = readStackFile(variantFile("staging", withSiemAuth), "staging");
    // What the engine hands over once it has decrypted the secure value.
    stackFile.values[`${NS}siemToken`] = TOKEN;
    expect(stackFile.secretKeys).toContain(`${NS}siemToken`);
    const revealed = new Map<string, Record<string, unknown>>();
    process.env.SKE_CONFIG_FILE = stackFile.file;
    let run;
    try {
      run = await within(
        runProgram({
          stackFile,
          entry: program,
          fakeState: (type, name, inputs) => {
            revealed.set(`${type}::${name}`, revealSecrets(inputs) as Record<string, unknown>);
            return fakeState(type, name, inputs);
          },
        }),
        30_000,
        "program",
      );
    } finally {
      delete process.env.SKE_CONFIG_FILE;
    }
    // Nowhere in plain text: not in any recorded input, option or output.
    expect(JSON.stringify(run.resources)).not.toContain(TOKEN);
    expect(JSON.stringify(run.outputs)).not.toContain(TOKEN);

    const secrets = run.resources.filter(
      (r) => r.type === "kubernetes:core/v1:Secret" && /-audit-collector-archive-credentials$/.test(r.name),
    );
    expect(secrets.length).toBe(3);
    for (const secret of secrets) {
      expect(secret.secretPaths.some((p) => p.startsWith("stringData"))).toBe(true);
      expect((revealed.get(`${secret.type}::${secret.name}`)!.stringData as Record<string, string>)["siem-token"]).toBe(
        TOKEN,
      );
    }
    const releases = run.resources.filter(
      (r) => r.type === "kubernetes:helm.sh/v3:Release" && r.name.endsWith("-audit-collector-vector"),
    );
    expect(releases.length).toBe(3);
    for (const release of releases) {
      const values = revealed.get(`${release.type}::${release.name}`)!.values as ReturnType<typeof collectorValues>;
      expect(JSON.stringify(values)).not.toContain(TOKEN);
      expect((values.customConfig.sinks as Record<string, any>).siem.request.headers).toEqual({
        Authorization: "Splunk ${SIEM_TOKEN}",
      });
      expect(values.env).toContainEqual({
        name: "SIEM_TOKEN",
        valueFrom: { secretKeyRef: { name: "audit-archive-credentials", key: "siem-token" } },
      });
    }
  }, 60_000);

  it("refuses a token stored in plain text in the stack file, naming key and file", () => {
    const stackFile = readStackFile(
      variantFile("staging", (c) => {
        withSiemAuth(c);
        c[`${NS}siemToken`] = TOKEN;
      }),
      "staging",
    );
    const found = problems(stackFile);
    expect(found).toEqual([
      expect.objectContaining({
        file: "Pulumi.staging.yaml",
        key: `${NS}siemToken`,
        message: expect.stringContaining("plain text"),
      }),
    ]);
    // The refusal itself never repeats the credential.
    expect(JSON.stringify(found)).not.toContain(TOKEN);
  });

  it("refuses auth without a token, and a token without auth", () => {
    expect(
      problems(
        readStackFile(
          variantFile("staging", (c) => {
            withSiemAuth(c);
            delete c[`${NS}siemToken`];
          }),
          "staging",
        ),
      ),
    ).toEqual([
      expect.objectContaining({
        key: `${NS}siemToken`,
        message: expect.stringContaining("pulumi config set --secret siemToken"),
      }),
    ]);
    expect(
      problems(
        readStackFile(
          variantFile("staging", (c) => {
            withSiemAuth(c);
            delete c[`${NS}audit`].siem.auth;
          }),
          "staging",
        ),
      ),
    ).toEqual([
      expect.objectContaining({
        key: `${NS}siemToken`,
        message: expect.stringContaining("does not say how to send it"),
      }),
    ]);
  });

  it("sends the header bare when no scheme is given, and no header or token without auth", () => {
    const base = {
      cluster: { name: "c", environment: "test", site: "osl2", role: "ops" },
      lokiUrl: "http://loki",
      archive: { endpoint: "https://s3", bucket: "b", region: "r" },
      credentialsSecret: "s",
    };
    const bare = collectorValues({
      ...base,
      siem: { endpoint: "https://siem", format: "json", auth: { header: "X-Api-Token" } },
    });
    expect((bare.customConfig.sinks as Record<string, any>).siem.request.headers).toEqual({
      "X-Api-Token": "${SIEM_TOKEN}",
    });
    const none = collectorValues({ ...base, siem: { endpoint: "https://siem", format: "json" } });
    expect((none.customConfig.sinks as Record<string, any>).siem.request).toBeUndefined();
    expect(none.env.map((e) => e.name)).not.toContain("SIEM_TOKEN");
  });
});
