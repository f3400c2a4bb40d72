/** No credential in a plain (non-secret) stack output. */
import type { StackPolicy, Violation } from "./model";

const CREDENTIAL_PATH = /(kubeconfig|talosconfig|token|private[-_]?key|privatekeypem|password|secret)(?!.*(id|name)$)/i;
const CREDENTIAL_VALUE = /-----BEGIN [A-Z ]*PRIVATE KEY-----|client-key-data|\btoken:\s*\S|"bearerToken"/;

export const noPlainCredentials: StackPolicy = {
  kind: "stack",
  name: "no-plain-credential-outputs",
  control: "6.5-audit",
  enforcement: "mandatory",
  description: "No kubeconfig, talosconfig, token or private key is a plain stack output; each is a Pulumi secret.",
  remediation: "Wrap the value in pulumi.secret() (or keep it out of the outputs); never pulumi.unsecret a credential.",
  validate: ({ outputs }) =>
    outputs.flatMap((o): Violation[] => {
      const keys = o.path.split(/[.[\]]/).filter(Boolean);
      const lastKey = keys[keys.length - 1] ?? o.path;
      const looksLikeCredential =
        CREDENTIAL_PATH.test(lastKey) || (typeof o.value === "string" && CREDENTIAL_VALUE.test(o.value));
      if (!looksLikeCredential || o.secret === true) return [];
      if (o.secret === undefined)
        return [{ message: `stack output ${o.path} looks like a credential and its secrecy cannot be observed here` }];
      return [{ message: `stack output ${o.path} is a credential in plain text` }];
    }),
};
