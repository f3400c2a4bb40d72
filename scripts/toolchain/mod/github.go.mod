// unbuildable: upstream provider/go.mod at v6.15.0 replaces github.com/integrations/terraform-provider-github/v6 with ../upstream, a patched git submodule outside the provider module (and the module proxy refuses github.com/pulumi/pulumi-github/provider/v6 with 403)
module ske.local/toolchain/github

go 1.26

replace github.com/hashicorp/terraform-exec => github.com/hashicorp/terraform-exec v0.15.0

replace github.com/hashicorp/terraform-plugin-sdk/v2 => github.com/pulumi/terraform-plugin-sdk/v2 v2.0.0-20260318212141-5525259d096b
