import type { FakeState } from "./mock-runtime";

/**
 * Values real providers compute and the program reads back. Each is
 * recognisably fake, so a synth output can never be mistaken for real.
 */
export const fakeState: FakeState = (type, name) => {
  switch (type) {
    case "tls:index/privateKey:PrivateKey":
      return {
        privateKeyPem: `-----BEGIN PRIVATE KEY-----\nFAKE-SYNTH-KEY-${name}\n-----END PRIVATE KEY-----\n`,
        publicKeyOpenssh: `ssh-ed25519 FAKE-SYNTH-KEY-${name}\n`,
        publicKeyFingerprintSha256: `SHA256:FAKE-SYNTH-${name}`,
      };
    default:
      return {};
  }
};
