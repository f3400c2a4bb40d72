/**
 * The Pulumi config namespace of this project (the `name` in Pulumi.yaml).
 * In its own module so that schema.ts and the config modules schema.ts
 * imports (cluster-api.ts) can both use it without importing each other.
 */
export const CONFIG_NAMESPACE = "ske-platform";
