// unbuildable: the module proxy refuses github.com/pulumi/pulumi-command/provider, /sdk and pulumi-go-provider in every version (403); previews use the TEST-ONLY provider in test/integration/engine/test-only-plugins (docs/decisions/command-provider-in-previews.md)
// Wrapper module for pulumi-resource-command
// (github.com/pulumi/pulumi-command/provider @VERSION@).
// Upstream provider/go.mod at v1.2.1 has no replace directives.
module ske.local/toolchain/command

go 1.26
