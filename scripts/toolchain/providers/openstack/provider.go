// Package openstack bridges terraform-provider-openstack to the tokens and
// property names of @pulumi/openstack 3.15.2, for exactly the resources and
// functions the program uses (tfgen refuses unmapped Terraform resources, so
// the others are dropped from the upstream provider).
package openstack

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	upstream "github.com/terraform-provider-openstack/terraform-provider-openstack/v3/openstack"
)

// Version is the plugin version @pulumi/openstack 3.15.2 asks the engine for.
const Version = "3.15.2"

// Resources maps Terraform resource names to @pulumi/openstack 3.15.2 tokens.
var Resources = map[string]string{
	"openstack_compute_instance_v2":                "openstack:compute/instance:Instance",
	"openstack_compute_servergroup_v2":             "openstack:compute/serverGroup:ServerGroup",
	"openstack_identity_application_credential_v3": "openstack:identity/applicationCredential:ApplicationCredential",
	"openstack_identity_ec2_credential_v3":         "openstack:identity/ec2CredentialV3:Ec2CredentialV3",
	"openstack_identity_role_assignment_v3":        "openstack:identity/roleAssignment:RoleAssignment",
	"openstack_identity_user_v3":                   "openstack:identity/user:User",
	"openstack_networking_floatingip_v2":           "openstack:networking/floatingIp:FloatingIp",
	"openstack_networking_network_v2":              "openstack:networking/network:Network",
	"openstack_networking_port_v2":                 "openstack:networking/port:Port",
	"openstack_networking_router_interface_v2":     "openstack:networking/routerInterface:RouterInterface",
	"openstack_networking_router_v2":               "openstack:networking/router:Router",
	"openstack_networking_secgroup_rule_v2":        "openstack:networking/secGroupRule:SecGroupRule",
	"openstack_networking_secgroup_v2":             "openstack:networking/secGroup:SecGroup",
	"openstack_networking_subnet_v2":               "openstack:networking/subnet:Subnet",
}

// Functions maps Terraform data sources to @pulumi/openstack 3.15.2 function tokens.
var Functions = map[string]string{
	"openstack_identity_auth_scope_v3":        "openstack:identity/getAuthScope:getAuthScope",
	"openstack_identity_role_v3":              "openstack:identity/getRole:getRole",
	"openstack_compute_availability_zones_v2": "openstack:compute/getAvailabilityZones:getAvailabilityZones",
	"openstack_compute_flavor_v2":             "openstack:compute/getFlavor:getFlavor",
	"openstack_compute_limits_v2":             "openstack:compute/getLimitsV2:getLimitsV2",
	"openstack_compute_quotaset_v2":           "openstack:compute/getQuotaSetV2:getQuotaSetV2",
	"openstack_images_image_ids_v2":           "openstack:images/getImageIds:getImageIds",
	"openstack_networking_network_v2":         "openstack:networking/getNetwork:getNetwork",
	"openstack_networking_port_ids_v2":        "openstack:networking/getPortIds:getPortIds",
	"openstack_networking_quota_v2":           "openstack:networking/getQuotaV2:getQuotaV2",
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
		if _, ok := Functions[name]; !ok {
			delete(p.DataSourcesMap, name)
		}
	}
	info := tfbridge.ProviderInfo{
		P:           shimv2.NewProvider(p),
		Name:        "openstack",
		Version:     Version,
		Description: "OpenStack resources the ske-platform program uses, bridged from terraform-provider-openstack.",
		License:     "Apache-2.0",
		GitHubOrg:   "terraform-provider-openstack",
		Repository:  "https://github.com/pulumi/pulumi-openstack",
		Config: map[string]*tfbridge.SchemaInfo{
			"region":   {Default: &tfbridge.DefaultInfo{EnvVars: []string{"OS_REGION_NAME"}}},
			"insecure": {Default: &tfbridge.DefaultInfo{EnvVars: []string{"OS_INSECURE"}}},
			"cloud":    {Default: &tfbridge.DefaultInfo{EnvVars: []string{"OS_CLOUD"}}},
		},
		Resources:   map[string]*tfbridge.ResourceInfo{},
		DataSources: map[string]*tfbridge.DataSourceInfo{},
	}
	for tf, token := range Resources {
		info.Resources[tf] = &tfbridge.ResourceInfo{Tok: tokens.Type(token)}
	}
	for tf, token := range Functions {
		info.DataSources[tf] = &tfbridge.DataSourceInfo{Tok: tokens.ModuleMember(token)}
	}
	// Names and shapes where @pulumi/openstack 3.15.2 differs from what the
	// bridge would derive from the Terraform schema.
	info.Resources["openstack_networking_subnet_v2"].Fields = map[string]*tfbridge.SchemaInfo{
		"allocation_pool": {Name: "allocationPools"},
	}
	// Upstream declares policies a list with MaxItems 1, which the bridge would
	// flatten to a string; the SDK (and the program) pass a list.
	noFlatten := false
	info.Resources["openstack_compute_servergroup_v2"].Fields = map[string]*tfbridge.SchemaInfo{
		"policies": {MaxItemsOne: &noFlatten},
	}
	info.SetAutonaming(255, "-")
	return info
}
