//go:build tools

// Package tools records the helm command as a dependency of this module so that
// `go mod tidy` keeps everything helm.sh/helm/v3/cmd/helm needs in go.sum.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
