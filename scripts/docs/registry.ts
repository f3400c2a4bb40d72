/** Every document generated from code, and what renders it (scripts/docs/generate.ts writes them). */
import { policyTableMarkdown } from "./policy-table";
import { scorecardTableMarkdown } from "./scorecard-table";

export const GENERATED_DOCS: Readonly<Record<string, () => string>> = {
  "docs/policies.md": policyTableMarkdown,
  "docs/scorecard.md": scorecardTableMarkdown,
};
