// Wrapper module for pulumi-resource-openstack
// (github.com/pulumi/pulumi-openstack/provider/v3 @VERSION@, bridging
// terraform-provider-openstack v1.54.1). Replaces repeated from upstream
// provider/go.mod at v3.15.2.
module ske.local/toolchain/openstack

go 1.26

replace github.com/hashicorp/go-getter v1.5.0 => github.com/hashicorp/go-getter v1.4.0

replace github.com/hashicorp/terraform-plugin-sdk/v2 => github.com/pulumi/terraform-plugin-sdk/v2 v2.0.0-20240229143312-4f60ee4e2975

replace github.com/hashicorp/terraform-plugin-test => github.com/hashicorp/terraform-plugin-test v1.3.0
