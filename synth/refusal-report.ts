/**
 * The compliance report of a stack synth could not build. Written in place
 * of the usual report, so an earlier run's PASS is never left lying in
 * `<out>/<stack>/compliance.md` next to a refused config.
 */
import type { ConfigProblem } from "../config/load";
import { CONTROLS, type ControlId } from "../policy/model";

/** Which control a refused key protects, where one does. Checked in order. */
const KEY_CONTROLS: [RegExp, ControlId][] = [
  [/overlaps .*supernet/, "6.1"],
  [/^ske-platform:(access\.|sites\.[^.]+\.(subnet|dnsNameservers))/, "6.1"],
  [/^ske-platform:(zitadel\.|layers\.|audit\.|siemToken)/, "6.5-audit"],
  [/^ske-platform:(github\.|protection\.|clusters\.ops\.nodes\.controlPlane|sites\.[^.]+\.nodes\.controlPlane)/, "6.2"],
  // The runner group is what keeps unapproved jobs out of the environment's network.
  [/^ske-platform:runners\.workflows/, "6.2"],
];

export function controlOfProblem(problem: ConfigProblem): ControlId | undefined {
  const subject = `${problem.key} ${problem.message}`;
  return KEY_CONTROLS.find(([pattern]) => pattern.test(problem.key) || pattern.test(subject))?.[1];
}

const esc = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function refusalReport(stack: string, error: string, problems?: readonly ConfigProblem[]): string {
  const lines = [`# Compliance evidence: ${stack}`, ""];
  if (problems && problems.length > 0) {
    lines.push(
      "**Verdict: FAIL.** The configuration was refused before any resource was registered, so no control can be shown to hold.",
      "",
      "| file | key | control | problem |",
      "| --- | --- | --- | --- |",
      ...problems.map((p) => {
        const control = controlOfProblem(p);
        return `| ${esc(p.file)} | \`${esc(p.key)}\` | ${control ? CONTROLS[control] : "-"} | ${esc(p.message)} |`;
      }),
    );
  } else {
    lines.push(
      "**Verdict: FAIL.** The program failed, so the resources it registers are incomplete and no control can be shown to hold.",
      "",
      "```",
      error,
      "```",
    );
  }
  return lines.join("\n");
}
