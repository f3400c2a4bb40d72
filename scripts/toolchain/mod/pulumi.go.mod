// Wrapper module for the Pulumi CLI (package github.com/pulumi/pulumi/pkg/v3/cmd/pulumi).
// build.sh copies this file into a throw-away directory outside the repo,
// replaces @VERSION@ and runs `go get` to add the requirements and go.sum.
// The replace lines repeat the non-local replaces of upstream
// pkg/v3 and sdk/v3 go.mod at v3.276.0 (re-check them when bumping).
module ske.local/toolchain/pulumi

go 1.26

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e

replace golang.org/x/text => golang.org/x/text v0.41.0
