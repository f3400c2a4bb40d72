import { UnknownValueError } from "@pulumi/policy";
import { OPAQUE } from "./model";

/**
 * Copies the pack's proxied props into plain data. Reading an unknown value
 * through the proxy throws; left alone, that would turn the whole policy
 * into an advisory "can't run during preview" note. Each unknown becomes
 * OPAQUE instead, and the policy decides (a mandatory one reports it).
 */
export function plainProps(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [] : {};
  for (const key of Object.keys(value)) {
    let child: unknown;
    try {
      child = plainProps((value as Record<string, unknown>)[key]);
    } catch (err) {
      if (!(err instanceof UnknownValueError)) throw err;
      child = OPAQUE;
    }
    (copy as Record<string, unknown>)[key] = child;
  }
  return copy;
}
