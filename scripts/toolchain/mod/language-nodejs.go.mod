// Wrapper module for the Node.js language host
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3).
// Upstream replaces pkg/v3 and sdk/v3 with local paths and requires pkg/v3 at a
// placeholder version; build.sh requires language host, pkg/v3 and sdk/v3 at one
// release instead. The remote replaces of upstream (and of sdk/v3) are repeated.
module ske.local/toolchain/language-nodejs

go 1.26

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e

replace golang.org/x/text => golang.org/x/text v0.41.0
