// tfgen writes a plugin's Pulumi schema: `tfgen <provider> schema --out DIR`.
// Run by generate-schemas.sh only when a pin changes; the schemas are committed.
package main

import (
	"fmt"
	"os"

	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"ske.local/toolchain/providers/github"
	"ske.local/toolchain/providers/openstack"
	"ske.local/toolchain/providers/random"
	"ske.local/toolchain/providers/tls"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tfgen openstack|github|tls|random schema --out DIR")
		os.Exit(2)
	}
	name := os.Args[1]
	os.Args = append(os.Args[:1], os.Args[2:]...)
	switch name {
	case "openstack":
		tfgen.Main(name, openstack.Version, openstack.Provider())
	case "github":
		tfgen.Main(name, github.Version, github.Provider())
	case "tls":
		pftfgen.Main(name, tls.Provider())
	case "random":
		pftfgen.Main(name, random.Provider())
	default:
		fmt.Fprintf(os.Stderr, "tfgen: unknown provider %q\n", name)
		os.Exit(2)
	}
}
