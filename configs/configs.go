// Package configs holds the example configurations. demo.yaml is embedded
// for `pmsync demo`.
package configs

import _ "embed"

// Demo is the template of the configuration `pmsync demo` runs.
//
//go:embed demo.yaml
var Demo []byte
