import * as pulumi from "@pulumi/pulumi";

/**
 * Resolves an Output (or promise) or fails after `ms`: a never-resolving
 * Output must fail its test, not hang the suite.
 */
export function within<T>(value: pulumi.Output<T> | Promise<T>, ms = 5_000, what = "value"): Promise<T> {
  const promise = pulumi.Output.isInstance(value)
    ? new Promise<T>((resolve) =>
        value.apply((v) => {
          resolve(v);
          return v;
        }),
      )
    : value;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not resolve within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
