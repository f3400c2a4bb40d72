/**
 * The named guarantees the integration runners (engine tier, offline
 * preview) report: each passes unless its body throws, and its return value
 * is the detail line printed beside it.
 */
export interface Outcome {
  name: string;
  status: "passed" | "failed" | "skipped";
  detail: string;
}

export function checkRecorder() {
  const outcomes: Outcome[] = [];
  async function check(name: string, body: () => Promise<string | void> | string | void): Promise<boolean> {
    try {
      const detail = (await body()) ?? "";
      outcomes.push({ name, status: "passed", detail });
      console.log(`  PASS ${name}${detail ? ` — ${detail}` : ""}`);
      return true;
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      outcomes.push({ name, status: "failed", detail });
      console.log(`  FAIL ${name}\n       ${detail.split("\n").join("\n       ")}`);
      return false;
    }
  }
  return { outcomes, check };
}
