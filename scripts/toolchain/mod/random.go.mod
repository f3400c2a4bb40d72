// unbuildable: upstream provider/go.mod replaces github.com/terraform-providers/terraform-provider-random/shim with ./shim, a nested module that is not part of the provider module zip (and the module proxy refuses github.com/pulumi/pulumi-random/provider/v4 with 403)
module ske.local/toolchain/random

go 1.26

replace github.com/hashicorp/terraform-plugin-sdk/v2 => github.com/pulumi/terraform-plugin-sdk/v2 v2.0.0-20260318212141-5525259d096b
