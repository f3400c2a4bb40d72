// Package shim re-exports the TLS provider, whose code is in internal/ and so
// importable only from a module path under github.com/hashicorp/terraform-provider-tls.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	upstream "github.com/hashicorp/terraform-provider-tls/internal/provider"
)

func NewProvider() provider.Provider { return upstream.New() }
