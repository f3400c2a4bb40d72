// Package shim re-exports the random provider, whose code is in internal/ and so
// importable only from a module path under github.com/terraform-providers/terraform-provider-random.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	upstream "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

func NewProvider() provider.Provider { return upstream.New() }
