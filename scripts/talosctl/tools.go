//go:build tools

// Package tools pins the talosctl command so `go build` resolves it with the
// replace directives this module repeats from the Talos root module.
package tools

import _ "github.com/siderolabs/talos/cmd/talosctl"
