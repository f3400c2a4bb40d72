// Wrapper module for pulumi-resource-command
// (github.com/pulumi/pulumi-command/provider @VERSION@).
// Upstream provider/go.mod at v1.2.1 has no replace directives.
module ske.local/toolchain/command

go 1.26
