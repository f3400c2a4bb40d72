// Package tls bridges the plugin-framework terraform-provider-tls to the
// tokens of @pulumi/tls 5.6.1.
package tls

import (
	tlsshim "github.com/hashicorp/terraform-provider-tls/shim"
	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

// Version is the plugin version @pulumi/tls 5.6.1 asks the engine for.
const Version = "5.6.1"

// Resources maps Terraform resource names to @pulumi/tls 5.6.1 tokens.
var Resources = map[string]string{
	"tls_cert_request":        "tls:index/certRequest:CertRequest",
	"tls_locally_signed_cert": "tls:index/locallySignedCert:LocallySignedCert",
	"tls_private_key":         "tls:index/privateKey:PrivateKey",
	"tls_self_signed_cert":    "tls:index/selfSignedCert:SelfSignedCert",
}

// Provider is the bridge's description of the plugin.
func Provider() tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:            pftfbridge.ShimProvider(tlsshim.NewProvider()),
		Name:         "tls",
		Version:      Version,
		Description:  "TLS keys and certificates, bridged from terraform-provider-tls.",
		License:      "Apache-2.0",
		GitHubOrg:    "hashicorp",
		Repository:   "https://github.com/pulumi/pulumi-tls",
		MetadataInfo: tfbridge.NewProviderMetadata([]byte("{}")),
		Resources:    map[string]*tfbridge.ResourceInfo{},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"tls_certificate": {Tok: tokens.ModuleMember("tls:index/getCertificate:getCertificate")},
			"tls_public_key":  {Tok: tokens.ModuleMember("tls:index/getPublicKey:getPublicKey")},
		},
	}
	for tf, token := range Resources {
		info.Resources[tf] = &tfbridge.ResourceInfo{Tok: tokens.Type(token)}
	}
	return info
}
