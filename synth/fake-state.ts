import type { FakeState } from "./mock-runtime";

/**
 * Values real providers compute and the program reads back. Each is
 * recognisably fake, so a synth output can never be mistaken for real.
 */
export const fakeState: FakeState = (type, name, inputs) => {
  switch (type) {
    case "tls:index/privateKey:PrivateKey":
      return {
        privateKeyPem: `-----BEGIN PRIVATE KEY-----\nFAKE-SYNTH-KEY-${name}\n-----END PRIVATE KEY-----\n`,
        publicKeyOpenssh: `ssh-ed25519 FAKE-SYNTH-KEY-${name}\n`,
        publicKeyPem: `-----BEGIN PUBLIC KEY-----\nFAKE-SYNTH-PUBLIC-KEY-${name}\n-----END PUBLIC KEY-----\n`,
        publicKeyFingerprintSha256: `SHA256:FAKE-SYNTH-${name}`,
      };
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      return { certPem: `-----BEGIN CERTIFICATE-----\nFAKE-SYNTH-CERT-${name}\n-----END CERTIFICATE-----\n` };
    case "tls:index/certRequest:CertRequest":
      return {
        certRequestPem: `-----BEGIN CERTIFICATE REQUEST-----\nFAKE-SYNTH-CSR-${name}\n-----END CERTIFICATE REQUEST-----\n`,
      };
    case "random:index/randomPassword:RandomPassword":
      // As long as asked for, lower-case and digits: valid wherever the real one is.
      return { result: fakeText(name, Number(inputs.length ?? 16)) };
    case "random:index/randomBytes:RandomBytes":
      return { base64: Buffer.from(`FAKE-SYNTH-BYTES-${name}`.padEnd(32, "x").slice(0, 32)).toString("base64") };
    case "openstack:networking/port:Port":
      return { allFixedIps: [fixedAddress(inputs) ?? fakeAddress(name)] };
    case "openstack:networking/floatingIp:FloatingIp":
      return { address: fakeAddress(name, 0xcb007100) };
    case "kubernetes:core/v1:Secret":
      // The token controller fills service-account tokens; everything else is as given.
      return inputs.type === "kubernetes.io/service-account-token"
        ? { data: { token: Buffer.from(`FAKE-SYNTH-SA-TOKEN-${name}`).toString("base64") } }
        : {};
    case "openstack:identity/ec2CredentialV3:Ec2CredentialV3":
      return { access: `FAKE-SYNTH-ACCESS-${name}`, secret: `FAKE-SYNTH-SECRET-${name}` };
    case "openstack:identity/applicationCredential:ApplicationCredential":
      // Keystone generates the secret when none is given.
      return { secret: `FAKE-SYNTH-APP-CREDENTIAL-SECRET-${name}` };
    default:
      return {};
  }
};

function fakeText(name: string, length: number): string {
  return `fakesynth${fakeHash(name).toString(36)}`.padEnd(length, "0").slice(0, length);
}

function fakeHash(text: string): number {
  let hash = 0x811c9dc5;
  for (const char of text) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return hash;
}

/**
 * Addresses DHCP would assign, from 198.18.0.0/15 (reserved for
 * benchmarking, never a site subnet here) or, for floating IPs, from
 * 203.0.113.0/24 (documentation range).
 */
function fakeAddress(name: string, base = 0xc6120000): string {
  const span = base === 0xc6120000 ? 0x20000 : 0x100;
  const value = base + (fakeHash(name) % span);
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join(".");
}

function fixedAddress(inputs: Record<string, unknown>): string | undefined {
  const fixed = inputs.fixedIps as { ipAddress?: string }[] | undefined;
  return fixed?.find((f) => typeof f.ipAddress === "string")?.ipAddress;
}
