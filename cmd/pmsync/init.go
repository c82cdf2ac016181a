package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
)

func (c *cli) cmdInit(flags *flag.FlagSet) func(context.Context, []string) error {
	var tools []string
	flags.Func("tools", "comma-separated connector `KINDS` to configure (default: every kind pmsync knows)", func(v string) error {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" && !slices.Contains(tools, t) {
				tools = append(tools, t)
			}
		}
		return nil
	})
	def := "pmsync.yaml"
	if v, ok := c.env(config.EnvConfig); ok && v != "" {
		def = v
	}
	output := flags.String("output", def, "write the configuration to `FILE` (- for standard output); pmsync.schema.json goes beside it")
	force := flags.Bool("force", false, "overwrite files that exist")
	return func(context.Context, []string) error {
		text, vars, err := starter(connectors.Default, tools)
		if err != nil {
			return err
		}
		if *output == "-" {
			_, err := fmt.Fprint(c.stdout, text)
			return err
		}
		schema, err := config.Schema(connectors.Default)
		if err != nil {
			return err
		}
		schemaPath := filepath.Join(filepath.Dir(*output), "pmsync.schema.json")
		for _, f := range []struct {
			path string
			data []byte
		}{{*output, []byte(text)}, {schemaPath, schema}} {
			mode := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if *force {
				mode = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			if err := writeFile(f.path, f.data, mode); err != nil {
				if errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("%s exists; pass --force to overwrite it, or --output to write elsewhere", f.path)
				}
				return err
			}
		}
		fmt.Fprintf(c.stderr, "wrote %s (and %s, for editors)\nnext: edit the values marked EDIT, set %s, then run '%s validate --config %s'\n",
			*output, schemaPath, strings.Join(vars, ", "), c.prog, *output)
		return nil
	}
}

func writeFile(path string, data []byte, flags int) error {
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// envName finds the variables a starter's *_env keys name.
var envName = regexp.MustCompile(`_env: ([A-Z][A-Z0-9_]*)`)

// starter writes a commented starter configuration for the named kinds
// (every kind with a sample when none is named) from each kind's
// Spec.Sample, and lists the environment variables its secrets are read
// from.
func starter(reg *connectors.Registry, tools []string) (string, []string, error) {
	var known []string
	for _, k := range reg.Kinds() {
		if s, err := reg.Lookup(k); err == nil && s.Sample != nil {
			known = append(known, k)
		}
	}
	if len(tools) == 0 {
		tools = known
	}
	var specs []connectors.Spec
	for _, t := range tools {
		if !slices.Contains(known, t) {
			return "", nil, fmt.Errorf("%w: --tools: no connector kind %q%s (kinds: %s)", errUsage, t, suggest(t, known), strings.Join(known, ", "))
		}
		s, _ := reg.Lookup(t)
		specs = append(specs, s)
	}

	var b strings.Builder
	fmt.Fprintf(&b, `# yaml-language-server: $schema=pmsync.schema.json
# pmsync configuration for %[1]s, written by pmsync init.
# Edit the values marked EDIT, set the environment variables the *_env keys
# name (secrets are never written in this file), then check it with
#   pmsync validate
# pmsync config shows the effective values; the pmsync source's
# configs/example.yaml explains every key.

# SQLite database file, relative to this file. Environment: PMSYNC_DATABASE.
database: pmsync.db

# The dashboard, JSON API and /metrics. An address other than loopback
# needs a bearer token (auth_token_env).
http:
  listen: 127.0.0.1:8080

# Cron specs (minute hour day month weekday): when every source is pulled,
# and when rollups are computed and pushed.
schedule:
  sync: "*/15 * * * *"
  rollup: "0 7 * * 1-5"

# One entry per account of a tool. base_url must be https.
connections:
`, strings.Join(tools, ", "))
	for i, s := range specs {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(s.Sample.Connection)
	}
	b.WriteString(`
# The executive units, each fed by sources: a scope of one connection.
programs:
  - id: my-program          # EDIT: a-z, 0-9, _ and -
    name: My Program        # EDIT
    # start: 2026-01-05     # with end, gives the time elapsed and the budget variance
    # end: 2026-12-18
    # budget: { planned: 250000, currency: USD }
    sources:
`)
	for _, s := range specs {
		fmt.Fprintf(&b, "      # EDIT %s\n      - { connection: %s, scope: %s }\n", s.Sample.ScopeHelp, s.Kind, s.Sample.Scope)
	}
	b.WriteString("\n# Where rollups go: uncomment the targets you want; programs is all or a\n# list of program ids.\n# push:\n")
	for _, s := range specs {
		if s.Sample.Target == "" {
			continue
		}
		fmt.Fprintf(&b, "#   # %s\n#   - { connection: %s, target: %s, programs: all }\n", s.Sample.TargetHelp, s.Kind, s.Sample.Target)
	}
	var vars []string
	for _, m := range envName.FindAllStringSubmatch(b.String(), -1) {
		if !slices.Contains(vars, m[1]) {
			vars = append(vars, m[1])
		}
	}
	return b.String(), vars, nil
}
