/**
 * The text a template literal gives a value whose type is unknown (a field of
 * parsed YAML or of a resource's inputs): what `String()` makes of it, so
 * messages and reports built from such values stay exactly what they were.
 * Taking `unknown` keeps a `value ?? ""` argument from being typed `{}`.
 */
export function displayText(value: unknown): string {
  return String(value);
}
