/** Base64 of a text's UTF-8 bytes: how Talos configs, kubeconfigs and roll-out stdin carry PEMs and YAML. */
export const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");
