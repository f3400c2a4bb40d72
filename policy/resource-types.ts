/** The Pulumi resource types the policies of policies.ts judge. */

export const TYPES = {
  secGroupRule: "openstack:networking/secGroupRule:SecGroupRule",
  instance: "openstack:compute/instance:Instance",
  ruleset: "github:index/repositoryRuleset:RepositoryRuleset",
  repositoryFile: "github:index/repositoryFile:RepositoryFile",
  helmRelease: "kubernetes:helm.sh/v3:Release",
  service: "kubernetes:core/v1:Service",
  secret: "kubernetes:core/v1:Secret",
  clusterRole: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
  role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
  clusterRoleBinding: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
  roleBinding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
  appProject: "kubernetes:argoproj.io/v1alpha1:AppProject",
  machineSecrets: "ske:talos:MachineSecrets",
} as const;
