/**
 * Scanner output → findings → the gate. Pure: the CLI (scan.ts) feeds it the
 * real JSON of trivy and kube-score; tests feed it small documents of the
 * same shape.
 */

export type Scanner = "trivy" | "kube-score";

export interface Finding {
  scanner: Scanner;
  /** trivy's ID (KSV-0041) or kube-score's check id (container-resources). */
  check: string;
  /** `Kind/namespace/name` (`_` for cluster-scoped). */
  object: string;
  severity: string;
  title: string;
}

export interface Waiver {
  scanner: Scanner;
  check: string;
  /** `Kind/namespace/name`; `*` matches any one segment. */
  object: string;
  reason: string;
}

export const findingKey = (f: Pick<Finding, "scanner" | "check" | "object">) => `${f.scanner} ${f.check} ${f.object}`;

/** The parts of trivy's `config --format json` report read here. */
export type TrivyReport = {
  Results?: {
    Target: string;
    Misconfigurations?: { ID: string; Severity: string; Title: string; Status?: string }[];
  }[];
};

/** trivy `config --format json`: one Result per file, and each file holds one object (its key is in `objects`). */
export function trivyFindings(report: TrivyReport, objects: ReadonlyMap<string, string>): Finding[] {
  return (report.Results ?? []).flatMap((result) => {
    const object = objects.get(result.Target) ?? objects.get(result.Target.split("/").pop() ?? "");
    if (!object) throw new Error(`trivy reported on ${result.Target}, which is not one of the scanned manifests`);
    return (result.Misconfigurations ?? [])
      .filter((m) => m.Status === undefined || m.Status === "FAIL")
      .map((m) => ({ scanner: "trivy" as const, check: m.ID, object, severity: m.Severity, title: m.Title }));
  });
}

const KUBE_SCORE_GRADES: Record<number, string> = { 1: "CRITICAL", 5: "WARNING", 7: "ALMOST_OK" };

/** The parts of kube-score's `score -o json` (v2) report read here. */
export type KubeScoreReport = {
  type_meta: { kind: string };
  object_meta: { name?: string; namespace?: string };
  checks: {
    check: { id: string; name: string };
    grade: number;
    skipped: boolean;
    comments?: { summary?: string }[] | null;
  }[];
}[];

/** kube-score `score -o json` (v2): grade 10 is OK; skipped checks are not findings. */
export function kubeScoreFindings(report: KubeScoreReport): Finding[] {
  return report.flatMap((scored) => {
    const object = `${scored.type_meta.kind}/${scored.object_meta.namespace || "_"}/${scored.object_meta.name ?? "?"}`;
    return scored.checks
      .filter((c) => !c.skipped && c.grade < 10)
      .map((c) => ({
        scanner: "kube-score" as const,
        check: c.check.id,
        object,
        severity: KUBE_SCORE_GRADES[c.grade] ?? `grade ${c.grade}`,
        title:
          (c.comments ?? [])
            .map((x) => x.summary)
            .filter(Boolean)
            .join("; ") || c.check.name,
      }));
  });
}

const segmentMatches = (pattern: string, value: string) => pattern === "*" || pattern === value;

export function waiverMatches(w: Waiver, f: Finding): boolean {
  if (w.scanner !== f.scanner || w.check !== f.check) return false;
  const want = w.object.split("/");
  const got = f.object.split("/");
  return want.length === got.length && want.every((p, i) => segmentMatches(p, got[i]!));
}

export function waiverProblems(waivers: readonly Waiver[]): string[] {
  return waivers.flatMap((w, i) => {
    const problems: string[] = [];
    if (!w.reason || w.reason.trim().length < 20)
      problems.push(`waiver ${i} (${w.scanner} ${w.check} ${w.object}) needs a reason of at least 20 characters`);
    if (w.object.split("/").length !== 3) problems.push(`waiver ${i}: object "${w.object}" is not Kind/namespace/name`);
    if (w.check === "*") problems.push(`waiver ${i}: a waiver names one check, never "*"`);
    return problems;
  });
}

export interface Gate {
  /** Unique findings (same check on the same object in several clusters or stacks counts once). */
  findings: Finding[];
  waived: Finding[];
  /** Findings no waiver covers: these fail CI. */
  fresh: Finding[];
  /**
   * Waivers that matched nothing in this run: reported, not failed, because a
   * waiver may cover an object only some configurations or branches create
   * (a SIEM, a component landing in parallel). Prune them when they stay idle.
   */
  stale: Waiver[];
  problems: string[];
}

export function gate(all: readonly Finding[], waivers: readonly Waiver[]): Gate {
  const unique = [...new Map(all.map((f) => [findingKey(f), f])).values()].sort((a, b) =>
    findingKey(a).localeCompare(findingKey(b)),
  );
  const waived = unique.filter((f) => waivers.some((w) => waiverMatches(w, f)));
  const fresh = unique.filter((f) => !waived.includes(f));
  const stale = waivers.filter((w) => !unique.some((f) => waiverMatches(w, f)));
  return { findings: unique, waived, fresh, stale, problems: waiverProblems(waivers) };
}

export const gatePasses = (g: Gate) => g.fresh.length === 0 && g.problems.length === 0;
