import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CLIENT_CERTIFICATE_LIFETIME,
  alwaysValid,
  certificatesIssuedBy,
  lifetimeProblems,
  readyForRenewal,
  renewalWindow,
} from "../plan/credential-lifetime";
import { clientCertificatesRenewed } from "../policy/backup-controls";
import type { PolicyResource } from "../policy/model";
import { STACKS, ofType, synthOk } from "./support/stacks";

const DAY_MS = 86_400_000;
const day = (n: number) => new Date(Date.UTC(2027, 0, 1) + n * DAY_MS);

describe("the renewal window of the client certificates", () => {
  it("is stated: 90 days of validity, renewed by any preview or up from day 60", () => {
    const window = renewalWindow(day(0));
    expect(window.renewFrom).toEqual(day(60));
    expect(window.notAfter).toEqual(day(90));
    expect(readyForRenewal(window, new Date(day(60).getTime() - 1))).toBe(false);
    expect(readyForRenewal(window, day(60))).toBe(true);
  });

  it("a deploy every week re-issues the certificate once every 60 days, never letting it lapse", () => {
    const weekly = Array.from({ length: 60 }, (_, i) => day(i * 7));
    const issued = certificatesIssuedBy(weekly);
    expect(issued.map((w) => Math.round((w.issuedAt.getTime() - day(0).getTime()) / DAY_MS))).toEqual([
      0, 63, 126, 189, 252, 315, 378,
    ]);
    expect(alwaysValid(issued, day(59 * 7))).toBe(true);
  });

  it("property: deploys at most 30 days apart (the renewal window) keep a valid certificate at every moment; a longer pause can let it expire", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 30 }), (gaps) => {
        const runs = [day(0)];
        for (const gap of gaps) runs.push(new Date(runs[runs.length - 1]!.getTime() + gap * DAY_MS));
        const issued = certificatesIssuedBy(runs);
        // Every certificate but the newest was replaced at or after day 60 of its life and before day 90.
        for (let i = 1; i < issued.length; i++) {
          const age = issued[i]!.issuedAt.getTime() - issued[i - 1]!.issuedAt.getTime();
          expect(age).toBeGreaterThanOrEqual(60 * DAY_MS);
          expect(age).toBeLessThanOrEqual(90 * DAY_MS);
        }
        expect(alwaysValid(issued, runs[runs.length - 1]!)).toBe(true);
      }),
    );
    // 59 days, then 32: the run on day 59 is one day early, the next one two days late.
    const paused = certificatesIssuedBy([day(0), day(59), day(91)]);
    expect(alwaysValid(paused, day(91))).toBe(false);
  });

  it("refuses a lifetime that never expires, never renews, renews on every run, or exceeds 90 days", () => {
    expect(lifetimeProblems(CLIENT_CERTIFICATE_LIFETIME)).toEqual([]);
    expect(lifetimeProblems({ validityHours: 365 * 24, earlyRenewalHours: 720 })).toEqual([
      "validityPeriodHours 8760 is above 2160 (90 days): a stolen copy would stay valid that long",
    ]);
    expect(lifetimeProblems({ validityHours: 2160 })).toEqual([
      "earlyRenewalHours is not set: `pulumi up` would let the certificate expire before issuing a new one",
    ]);
    expect(lifetimeProblems({ validityHours: 2160, earlyRenewalHours: 2160 })).toEqual([
      "earlyRenewalHours 2160 is not below validityPeriodHours 2160: every run would re-issue it",
    ]);
    expect(lifetimeProblems({ earlyRenewalHours: 720 })).toEqual([
      "validityPeriodHours must be a positive number, got undefined",
    ]);
  });
});

describe.each(STACKS)("%s: every client certificate the program signs", (stack) => {
  it("carries the stated lifetime and renewal window, and policy client-certificates-renewed passes", async () => {
    const result = await synthOk(stack);
    const signed = ofType(result.resources, "tls:index/locallySignedCert:LocallySignedCert");
    const certs = signed.filter((c) => (c.inputs.allowedUses as string[]).includes("client_auth"));
    // The other certificates are the two ingest gateways' server certificates (audit and platform), which no one logs in with.
    expect(signed.filter((c) => !certs.includes(c)).map((c) => [c.name, c.inputs.allowedUses])).toEqual([
      [`${result.environment}-audit-ingest-cert`, ["digital_signature", "key_encipherment", "server_auth"]],
      [`${result.environment}-platform-ingest-cert`, ["digital_signature", "key_encipherment", "server_auth"]],
    ]);
    const clusters = ofType(result.resources, "ske:cluster:Cluster").map((c) => c.name);
    // Per cluster: the admin kubeconfig, the os:admin talosconfig and the etcd backup's os:etcd:backup talosconfig.
    expect(certs.map((c) => c.name).sort()).toEqual(
      clusters.flatMap((c) => [`${c}-admin`, `${c}-talos-admin`, `${c}-etcd-backup-talos`]).sort(),
    );
    for (const cert of certs) {
      expect(cert.inputs).toMatchObject({
        validityPeriodHours: 2160,
        earlyRenewalHours: 720,
        allowedUses: ["digital_signature", "key_encipherment", "client_auth"],
      });
    }
    expect(result.compliance.results.find((r) => r.name === "client-certificates-renewed")).toMatchObject({
      status: "pass",
      control: "6.5-audit",
    });
  });

  it("reaches each cluster through a provider with a fixed clusterIdentifier, so a renewed kubeconfig updates it and replaces nothing", async () => {
    const result = await synthOk(stack);
    const providers = ofType(result.resources, "pulumi:providers:kubernetes");
    const clusters = ofType(result.resources, "ske:cluster:Cluster").map((c) => c.name);
    expect(providers.map((p) => [p.name, p.inputs.clusterIdentifier])).toEqual(
      expect.arrayContaining(clusters.map((c) => [`${c}-k8s`, c])),
    );
    expect(providers.filter((p) => p.inputs.clusterIdentifier === undefined).map((p) => p.name)).toEqual([]);
  });
});

describe("policy client-certificates-renewed", () => {
  const cert = (props: Record<string, unknown>): PolicyResource => ({
    type: "tls:index/locallySignedCert:LocallySignedCert",
    name: "production-osl2-ops-admin",
    props,
  });

  it("fails a certificate that lives a year or is never renewed, and one whose lifetime is unknown at preview", () => {
    expect(
      clientCertificatesRenewed.validate(cert({ validityPeriodHours: 8760, earlyRenewalHours: 720 }), {} as never),
    ).toEqual([
      "production-osl2-ops-admin: validityPeriodHours 8760 is above 2160 (90 days): a stolen copy would stay valid that long",
    ]);
    expect(clientCertificatesRenewed.validate(cert({ validityPeriodHours: 2160 }), {} as never)).toEqual([
      "production-osl2-ops-admin: earlyRenewalHours is not set: `pulumi up` would let the certificate expire before issuing a new one",
    ]);
    expect(
      clientCertificatesRenewed.validate(
        cert({ validityPeriodHours: "[opaque]", earlyRenewalHours: 720 }),
        {} as never,
      ),
    ).toEqual(["production-osl2-ops-admin: its lifetime is not known at preview"]);
    expect(
      clientCertificatesRenewed.validate(cert({ validityPeriodHours: 2160, earlyRenewalHours: 720 }), {} as never),
    ).toEqual([]);
  });

  it("judges every certificate that can authenticate a client, or whose uses are unknown, and no server-only one", () => {
    expect(
      clientCertificatesRenewed.appliesTo(cert({ allowedUses: ["digital_signature", "client_auth"] }), {} as never),
    ).toBe(true);
    expect(
      clientCertificatesRenewed.appliesTo(cert({ allowedUses: ["client_auth", "server_auth"] }), {} as never),
    ).toBe(true);
    expect(clientCertificatesRenewed.appliesTo(cert({ allowedUses: "[opaque]" }), {} as never)).toBe(true);
    expect(clientCertificatesRenewed.appliesTo(cert({}), {} as never)).toBe(true);
    expect(
      clientCertificatesRenewed.appliesTo(
        cert({ allowedUses: ["digital_signature", "key_encipherment", "server_auth"] }),
        {} as never,
      ),
    ).toBe(false);
  });
});
