/**
 * The site a resource belongs to, from the `<env>-<site>-` naming convention.
 * Its own module because summary.ts renders the deploy-runner reach and
 * deploy-runner-reach.ts needs this too; neither imports the other back.
 */
export function siteOf(name: string, environment: string, sites: readonly string[]): string {
  return (
    sites.find((site) => name === `${environment}-${site}` || name.startsWith(`${environment}-${site}-`)) ?? "(global)"
  );
}
