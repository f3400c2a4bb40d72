import type { SiteRuleInput } from "../../plan/security-rules";

/** A site that hosts the ops cluster beside a management cluster, with one other site and two foreign environments. */
export const opsSite: SiteRuleInput = {
  clusters: ["ops", "mgmt"],
  opsInSite: true,
  opsSiteSubnet: "10.32.0.0/20",
  otherSiteSubnets: ["10.32.16.0/20"],
  adminCidrs: ["198.51.100.0/27"],
  publicExceptions: [],
  foreignSupernets: ["10.33.0.0/16", "10.34.0.0/16"],
};
