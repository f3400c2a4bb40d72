/**
 * Answers of data sources other than getAuthScope under the mock runtime,
 * each recognisably fake like synth/fake-state.ts.
 */
import type * as pulumi from "@pulumi/pulumi";

export const GET_ROLE_TOKEN = "openstack:identity/getRole:getRole";

type Invoke = (args: pulumi.runtime.MockCallArgs) => Record<string, unknown> | undefined;

/** Keystone's role lookup (the etcd backup writer's role): the named role, with a fake id. */
export function withFakeRoles(next: Invoke): Invoke {
  return (args) => {
    if (args.token === GET_ROLE_TOKEN) {
      const inputs = args.inputs as Record<string, unknown>;
      return { ...inputs, id: `synth-fake-role-${String(inputs.name)}` };
    }
    return next(args);
  };
}
