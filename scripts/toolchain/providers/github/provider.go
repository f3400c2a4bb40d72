// Package github bridges terraform-provider-github to the tokens of
// @pulumi/github 6.15.0, for the resources the program uses.
package github

import (
	upstream "github.com/integrations/terraform-provider-github/v6/github"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

// Version is the plugin version @pulumi/github 6.15.0 asks the engine for.
const Version = "6.15.0"

// Resources maps Terraform resource names to @pulumi/github 6.15.0 tokens.
var Resources = map[string]string{
	"github_actions_runner_group":                     "github:index/actionsRunnerGroup:ActionsRunnerGroup",
	"github_repository_collaborators":                 "github:index/repositoryCollaborators:RepositoryCollaborators",
	"github_repository_deploy_key":                    "github:index/repositoryDeployKey:RepositoryDeployKey",
	"github_repository_environment":                   "github:index/repositoryEnvironment:RepositoryEnvironment",
	"github_repository_environment_deployment_policy": "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
	"github_repository_file":                          "github:index/repositoryFile:RepositoryFile",
	"github_repository_ruleset":                       "github:index/repositoryRuleset:RepositoryRuleset",
}

// Provider is the bridge's description of the plugin.
func Provider() tfbridge.ProviderInfo {
	p := upstream.Provider()
	for name := range p.ResourcesMap {
		if _, ok := Resources[name]; !ok {
			delete(p.ResourcesMap, name)
		}
	}
	for name := range p.DataSourcesMap {
		delete(p.DataSourcesMap, name)
	}
	info := tfbridge.ProviderInfo{
		P:           shimv2.NewProvider(p),
		Name:        "github",
		Version:     Version,
		Description: "GitHub resources the ske-platform program uses, bridged from terraform-provider-github.",
		License:     "MIT",
		GitHubOrg:   "integrations",
		Repository:  "https://github.com/pulumi/pulumi-github",
		Resources:   map[string]*tfbridge.ResourceInfo{},
	}
	for tf, token := range Resources {
		info.Resources[tf] = &tfbridge.ResourceInfo{Tok: tokens.Type(token)}
	}
	return info
}
