/**
 * The org runner groups of staging's and production's deploy runners (control
 * 6.2). A label is a string any job may ask for; the group's workflow
 * restriction is what keeps a job written on a branch, which nobody approved,
 * off the runners inside the environment's network. So in a gated stack the
 * group must admit only this repository and only workflow files at main.
 */
import { PROTECTED_BRANCH } from "../plan/change-management";
import { isOpaque, type ResourcePolicy } from "./model";

export const RUNNER_GROUP_TYPE = "github:index/actionsRunnerGroup:ActionsRunnerGroup";

export const runnerGroupWorkflowsOnMain: ResourcePolicy = {
  kind: "resource",
  name: "runner-group-workflows-on-main-6-2",
  control: "6.2",
  enforcement: "mandatory",
  description:
    "Staging's and production's deploy-runner groups admit only the IaC repository, no public repository, and only named workflow files at refs/heads/main, so no job written on a branch runs inside the environment's network before a second team member approved it.",
  remediation:
    "Set runners.workflows to the workflow files on main whose jobs run on the runners (plan/deploy-runners.ts DEPLOY_RUNNER_WORKFLOWS) and keep components/deploy-runner's group restricted to them.",
  appliesTo: (resource, ctx) => resource.type === RUNNER_GROUP_TYPE && ctx.environment !== "test",
  validate: (group) => {
    const problems: string[] = [];
    const { restrictedToWorkflows, selectedWorkflows, visibility, allowsPublicRepositories } = group.props;
    if (restrictedToWorkflows !== true)
      problems.push("admits every workflow of the repository (restrictedToWorkflows is not true)");
    if (!isOpaque(selectedWorkflows)) {
      const list = Array.isArray(selectedWorkflows) ? selectedWorkflows.map(String) : [];
      if (restrictedToWorkflows === true && list.length === 0) problems.push("names no workflow");
      const suffix = `@refs/heads/${PROTECTED_BRANCH}`;
      const elsewhere = list.filter((w) => !w.endsWith(suffix));
      if (elsewhere.length > 0) problems.push(`admits workflows outside ${suffix}: ${elsewhere.join(", ")}`);
    }
    if (visibility !== "selected")
      problems.push(`is visible to ${String(visibility)} repositories, not only the selected IaC repository`);
    if (allowsPublicRepositories !== false) problems.push("admits public repositories");
    return problems;
  },
};
