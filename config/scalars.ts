/**
 * The value types config/schema.ts builds the stack-file schema from, each
 * with the message an operator sees when a value is not one.
 */
import { z } from "zod";
import { parseAddress } from "../plan/cidr";
import { urlCredentialIssues } from "./url-credentials";

export const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, {
  message: "expected an OpenStack UUID such as 3f1c2b9e-5d4a-4c1e-9f0a-1b2c3d4e5f60",
});
export const name = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, {
  message: "expected a lower-case name of letters, digits and dashes",
});
export const httpsUrl = z
  .url({ protocol: /^https$/, message: "expected an https:// URL" })
  .superRefine(urlCredentialIssues);
export const ipv4 = z.string().refine((value) => parseAddress(value) !== undefined, {
  message: "expected an IPv4 address such as 10.0.0.1",
});
export const semver = z.string().regex(/^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, {
  message: "expected a version such as 1.2.3",
});
export const port = z.number().int().min(1).max(65535);

export const chartRefSchema = z.strictObject({ repository: httpsUrl, version: semver });
