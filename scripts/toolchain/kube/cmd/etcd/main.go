// etcd's server, as upstream's own top-level main starts it: go.etcd.io/etcd
// publishes no module with a main package for the server, only the library.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
