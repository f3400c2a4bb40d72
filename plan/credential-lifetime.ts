/**
 * How long the client certificates the program signs live, and when
 * `pulumi up` renews them. Pure.
 *
 * The certificates: each cluster's admin kubeconfig (Kubernetes CA), its
 * `os:admin` talosconfig and the etcd backup's `os:etcd:backup` talosconfig
 * (Talos API CA). Kubernetes and Talos cannot revoke a client certificate, so
 * its lifetime is the longest a stolen copy stays useful.
 *
 * Renewal is @pulumi/tls's own: a LocallySignedCert whose
 * `validityPeriodHours - earlyRenewalHours` have passed plans as a
 * replacement (the provider's ModifyPlan marks it `readyForRenewal`), in
 * `preview` as in `up`. So the nightly drift preview (`--expect-no-changes`)
 * fails on the first night of the window, and the next `up` issues a new
 * certificate, which the kubeconfig and talosconfig outputs then carry.
 */

export interface CertificateLifetime {
  validityHours: number;
  earlyRenewalHours: number;
}

const DAY = 24;

/**
 * 90 days, renewed from day 60: a deploy at least every 30 days (the width
 * of the window) always lands in it, and otherwise the nightly drift check
 * fails from day 60, 30 days before the certificate expires.
 */
export const CLIENT_CERTIFICATE_LIFETIME: CertificateLifetime = {
  validityHours: 90 * DAY,
  earlyRenewalHours: 30 * DAY,
};

/** The longest any client certificate of the program may live; policy `client-certificates-renewed` holds it. */
export const MAX_CLIENT_CERTIFICATE_HOURS = 90 * DAY;

/** What is wrong with a lifetime: none means it expires, renews before expiry, and is not re-issued on every run. */
export function lifetimeProblems(lifetime: Partial<CertificateLifetime>): string[] {
  const { validityHours, earlyRenewalHours } = lifetime;
  const problems: string[] = [];
  if (typeof validityHours !== "number" || !(validityHours > 0))
    return [`validityPeriodHours must be a positive number, got ${String(validityHours)}`];
  if (validityHours > MAX_CLIENT_CERTIFICATE_HOURS)
    problems.push(
      `validityPeriodHours ${validityHours} is above ${MAX_CLIENT_CERTIFICATE_HOURS} (${MAX_CLIENT_CERTIFICATE_HOURS / DAY} days): a stolen copy would stay valid that long`,
    );
  if (typeof earlyRenewalHours !== "number" || !(earlyRenewalHours > 0))
    problems.push(
      "earlyRenewalHours is not set: `pulumi up` would let the certificate expire before issuing a new one",
    );
  else if (earlyRenewalHours >= validityHours)
    problems.push(
      `earlyRenewalHours ${earlyRenewalHours} is not below validityPeriodHours ${validityHours}: every run would re-issue it`,
    );
  return problems;
}

export interface RenewalWindow {
  issuedAt: Date;
  /** From here on a preview or up plans the replacement. */
  renewFrom: Date;
  notAfter: Date;
}

const addHours = (date: Date, hours: number) => new Date(date.getTime() + hours * 3_600_000);

export function renewalWindow(
  issuedAt: Date,
  lifetime: CertificateLifetime = CLIENT_CERTIFICATE_LIFETIME,
): RenewalWindow {
  return {
    issuedAt,
    notAfter: addHours(issuedAt, lifetime.validityHours),
    renewFrom: addHours(issuedAt, lifetime.validityHours - lifetime.earlyRenewalHours),
  };
}

/** What the provider decides when a run plans at `now`: readyForRenewal, as tls' ModifyPlan computes it. */
export const readyForRenewal = (window: RenewalWindow, now: Date) => now.getTime() >= window.renewFrom.getTime();

/**
 * The certificates a sequence of `pulumi up` runs leaves behind: the first
 * run issues one, and each later run re-issues it when it is ready for
 * renewal. Returns every certificate's window, in order.
 */
export function certificatesIssuedBy(
  runs: readonly Date[],
  lifetime: CertificateLifetime = CLIENT_CERTIFICATE_LIFETIME,
): RenewalWindow[] {
  const sorted = [...runs].sort((a, b) => a.getTime() - b.getTime());
  const issued: RenewalWindow[] = [];
  for (const run of sorted) {
    const current = issued[issued.length - 1];
    if (!current || readyForRenewal(current, run)) issued.push(renewalWindow(run, lifetime));
  }
  return issued;
}

/** Whether some certificate is valid at every moment from the first run until `until`. */
export function alwaysValid(issued: readonly RenewalWindow[], until: Date): boolean {
  if (issued.length === 0) return false;
  for (let i = 0; i < issued.length; i++) {
    const end = i + 1 < issued.length ? issued[i + 1]!.issuedAt : until;
    if (issued[i]!.notAfter.getTime() < end.getTime()) return false;
  }
  return true;
}
