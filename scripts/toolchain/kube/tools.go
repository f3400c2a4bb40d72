//go:build tools

// Keeps k8s.io/kubernetes/cmd/kube-apiserver's dependencies in go.mod and
// go.sum; build.sh builds that package from the module cache.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
