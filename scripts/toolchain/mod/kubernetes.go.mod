// Wrapper module for pulumi-resource-kubernetes
// (github.com/pulumi/pulumi-kubernetes/provider/v4 @VERSION@).
// Upstream provider/go.mod only replaces sdk/v4 with a local path (../sdk);
// the wrapper takes sdk/v4 at the version the provider requires instead.
module ske.local/toolchain/kubernetes

go 1.26
