// Package random bridges the plugin-framework terraform-provider-random to the
// tokens of @pulumi/random 4.21.2.
package random

import (
	"context"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	randomshim "github.com/terraform-providers/terraform-provider-random/shim"
)

// Version is the plugin version @pulumi/random 4.21.2 asks the engine for.
const Version = "4.21.2"

// Resources maps Terraform resource names to @pulumi/random 4.21.2 tokens.
var Resources = map[string]string{
	"random_bytes":    "random:index/randomBytes:RandomBytes",
	"random_id":       "random:index/randomId:RandomId",
	"random_integer":  "random:index/randomInteger:RandomInteger",
	"random_password": "random:index/randomPassword:RandomPassword",
	"random_pet":      "random:index/randomPet:RandomPet",
	"random_shuffle":  "random:index/randomShuffle:RandomShuffle",
	"random_string":   "random:index/randomString:RandomString",
	"random_uuid":     "random:index/randomUuid:RandomUuid",
}

// Provider is the bridge's description of the plugin.
func Provider() tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:            pftfbridge.ShimProvider(randomshim.NewProvider()),
		Name:         "random",
		Version:      Version,
		Description:  "Random values, bridged from terraform-provider-random.",
		License:      "MPL-2.0",
		GitHubOrg:    "hashicorp",
		Repository:   "https://github.com/pulumi/pulumi-random",
		MetadataInfo: tfbridge.NewProviderMetadata([]byte("{}")),
		Resources:    map[string]*tfbridge.ResourceInfo{},
	}
	for tf, token := range Resources {
		info.Resources[tf] = &tfbridge.ResourceInfo{Tok: tokens.Type(token)}
	}
	// random_bytes has no id attribute upstream; the bridge needs one.
	info.Resources["random_bytes"].ComputeID = func(context.Context, resource.PropertyMap) (resource.ID, error) {
		return "none", nil
	}
	return info
}
