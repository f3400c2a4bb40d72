/**
 * The tags every OpenStack resource of a site carries (networks, ports,
 * instances, the deploy runners). Pre-flight looks the site's own ports up by
 * the same tags, so they must be written once.
 */
export const siteTags = (environment: string, site: string): string[] => [
  `environment:${environment}`,
  `site:${site}`,
  "managed-by:ske-platform",
];
