/** The address-plan ranges the policies compare addresses with. */
import { ENVIRONMENTS } from "../plan/address-plan";
import type { PolicyContext } from "./model";

export const foreignEnvironments = (ctx: PolicyContext) => ENVIRONMENTS.filter((e) => e !== ctx.environment);
export const supernetOf = (ctx: PolicyContext, env = ctx.environment) => ctx.addressPlan.environments[env].supernet;
