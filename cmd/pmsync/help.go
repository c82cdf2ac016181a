package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/pmsync/pmsync/config/yamlnode"
)

// command is one subcommand: what help says of it and how it runs.
type command struct {
	name     string
	summary  string
	args     []string // positional arguments, e.g. SHELL
	examples []string
	// define adds the command's flags to fs and returns what runs it with
	// the positional arguments.
	define func(c *cli, fs *flag.FlagSet) func(ctx context.Context, args []string) error
}

// commands lists the subcommands in the order help shows them.
func commands() []*command {
	return []*command{
		{name: "run", summary: "the daemon: scheduled sync, rollup and push, plus the dashboard; SIGHUP reloads the configuration",
			examples: []string{"pmsync run --config /etc/pmsync/pmsync.yaml", "kill -HUP $(pidof pmsync)    # reload pmsync.yaml after editing it"},
			define:   (*cli).cmdRun},
		{name: "sync", summary: "pull sources now (one pass)",
			examples: []string{"pmsync sync", "pmsync sync --source ehr-jira --full", "pmsync sync --deletions"},
			define:   (*cli).cmdSync},
		{name: "rollup", summary: "print the rollup from what is stored (read-only, needs no vendor credentials)",
			examples: []string{"pmsync rollup", "pmsync rollup --program ehr-upgrade --format json | jq .programs[0].health",
				"pmsync rollup --since 8w --changes-since 7d", "pmsync rollup --explain --program ehr-upgrade"},
			define: (*cli).cmdRollup},
		{name: "push", summary: "roll up, store a snapshot and deliver each program's rollup to its targets (webhook and file targets get the whole report); --dry-run shows what would be sent",
			examples: []string{"pmsync push --dry-run", "pmsync push"},
			define:   (*cli).cmdPush},
		{name: "validate", summary: "check the configuration; --probe also checks credentials and maps a sample of each source",
			examples: []string{"pmsync validate", "pmsync validate --probe --source ehr-jira"},
			define:   (*cli).cmdValidate},
		{name: "quarantine", summary: "list the records that failed to map, with the reason",
			examples: []string{"pmsync quarantine", "pmsync quarantine --source ehr-jira"},
			define:   (*cli).cmdQuarantine},
		{name: "audit", summary: "list the push audit: every delivery of a rollup (target, program, version, outcome, SHA-256 of what was sent, time)",
			examples: []string{"pmsync audit", "pmsync audit --program ehr-upgrade --since 7d", "pmsync audit --outcome failed --format json"},
			define:   (*cli).cmdAudit},
		{name: "config", summary: "print the effective configuration and where each value came from (secrets as <secret>)",
			examples: []string{"pmsync config", "PMSYNC_LOG_LEVEL=debug pmsync config"},
			define:   (*cli).cmdConfig},
		{name: "init", summary: "write a commented starter configuration for the named tools",
			examples: []string{"pmsync init --tools jira,asana", "pmsync init --tools smartsheet --output /etc/pmsync/pmsync.yaml"},
			define:   (*cli).cmdInit},
		{name: "schema", summary: "print the JSON Schema of the configuration file (for editors)",
			examples: []string{"pmsync schema > pmsync.schema.json"},
			define:   (*cli).cmdSchema},
		{name: "demo", summary: "run on built-in simulated vendors: sync, push and print the rollup",
			examples: []string{"pmsync demo", "pmsync demo --format json | jq .programs[].health.status", "pmsync demo --serve"},
			define:   (*cli).cmdDemo},
		{name: "completion", summary: "print a shell completion script", args: []string{"SHELL"},
			examples: []string{"source <(pmsync completion bash)", "pmsync completion zsh > \"${fpath[1]}/_pmsync\"", "pmsync completion fish > ~/.config/fish/completions/pmsync.fish"},
			define:   (*cli).cmdCompletion},
		{name: "version", summary: "print the version, commit and build date",
			examples: []string{"pmsync version", "pmsync --version"},
			define:   (*cli).cmdVersion},
		{name: "help", summary: "show help for pmsync or one command", args: []string{"COMMAND"},
			examples: []string{"pmsync help sync", "pmsync sync --help"},
			define:   (*cli).cmdHelp},
	}
}

func lookupCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func commandNames() []string {
	var out []string
	for _, c := range commands() {
		out = append(out, c.name)
	}
	return out
}

// suggest returns "; did you mean X?" for a near miss, else "".
func suggest(s string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := yamlnode.Distance(s, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprintf(w, "pmsync — project-management sync and executive rollups\n\nUsage: %s <command> [flags]\n\nCommands:\n", c.prog)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, cmd := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", cmd.name, cmd.summary)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, `
Run '%[1]s help COMMAND' (or '%[1]s COMMAND --help') for a command's flags and examples.
Commands that read a configuration take --config FILE (default: $PMSYNC_CONFIG, else pmsync.yaml).
Exit codes: 0 ok; 1 failed; 2 usage error (unknown command, flag, program or source);
3 partial failure (some sources or push targets failed, the others succeeded).
`, c.prog)
}

// commandHelp prints a command's purpose, flags and examples.
func (c *cli) commandHelp(w io.Writer, cmd *command) {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	cmd.define(c, fs)
	synopsis := "pmsync " + cmd.name
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		synopsis += " [flags]"
	}
	for _, a := range cmd.args {
		synopsis += " " + a
	}
	fmt.Fprintf(w, "pmsync %s — %s\n\nUsage:\n  %s\n", cmd.name, cmd.summary, synopsis)
	fmt.Fprintln(w, "\nFlags:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		spec := "--" + f.Name
		if name != "" {
			spec += " " + name
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", spec, usage)
	})
	fmt.Fprintf(tw, "  -h, --help\tshow this help\n")
	_ = tw.Flush()
	if len(cmd.examples) > 0 {
		fmt.Fprintln(w, "\nExamples:")
		for _, e := range cmd.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

func (c *cli) cmdHelp(fs *flag.FlagSet) func(context.Context, []string) error {
	return func(_ context.Context, args []string) error {
		if len(args) == 0 {
			c.usage(c.stdout)
			return nil
		}
		cmd := lookupCommand(args[0])
		if cmd == nil {
			return fmt.Errorf("%w: no command %q%s (commands: %s)", errUsage, args[0], suggest(args[0], commandNames()), strings.Join(commandNames(), ", "))
		}
		c.commandHelp(c.stdout, cmd)
		return nil
	}
}

func (c *cli) cmdVersion(fs *flag.FlagSet) func(context.Context, []string) error {
	return func(context.Context, []string) error {
		fmt.Fprint(c.stdout, readBuildInfo())
		return nil
	}
}

// flagWords lists a command's flags as --name words, for completion.
func flagWords(c *cli, cmd *command) []string {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	cmd.define(c, fs)
	var out []string
	fs.VisitAll(func(f *flag.Flag) { out = append(out, "--"+f.Name) })
	return append(out, "--help")
}

// completionValues are the values completion offers for some flags.
var completionValues = map[string]string{
	"--format":     "table json csv md",
	"--log-level":  "debug info warn error",
	"--log-format": "auto json console",
	"--outcome":    "delivered existing failed superseded",
}

func (c *cli) cmdCompletion(fs *flag.FlagSet) func(context.Context, []string) error {
	return func(_ context.Context, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("%w: name a shell: bash, zsh or fish", errUsage)
		}
		switch args[0] {
		case "bash":
			fmt.Fprint(c.stdout, c.bashCompletion())
		case "zsh":
			fmt.Fprint(c.stdout, "#compdef pmsync\n# zsh completion for pmsync: pmsync completion zsh > \"${fpath[1]}/_pmsync\"\nautoload -U +X bashcompinit && bashcompinit\n"+c.bashCompletion())
		case "fish":
			fmt.Fprint(c.stdout, c.fishCompletion())
		default:
			return fmt.Errorf("%w: no completion for shell %q (bash, zsh, fish)", errUsage, args[0])
		}
		return nil
	}
}

func (c *cli) bashCompletion() string {
	var b strings.Builder
	b.WriteString("# bash completion for pmsync: source <(pmsync completion bash)\n_pmsync() {\n")
	b.WriteString("  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n")
	fmt.Fprintf(&b, "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n    COMPREPLY=($(compgen -W %q -- \"$cur\"))\n    return\n  fi\n", strings.Join(commandNames(), " "))
	b.WriteString("  case \"$prev\" in\n    --config|--output|--db) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n")
	keys := make([]string, 0, len(completionValues))
	for k := range completionValues {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "    %s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return ;;\n", k, completionValues[k])
	}
	b.WriteString("  esac\n  case \"${COMP_WORDS[1]}\" in\n")
	for _, cmd := range commands() {
		words := strings.Join(flagWords(c, cmd), " ")
		switch cmd.name {
		case "completion":
			words = "bash zsh fish"
		case "help":
			words = strings.Join(commandNames(), " ")
		}
		fmt.Fprintf(&b, "    %s) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", cmd.name, words)
	}
	b.WriteString("  esac\n}\ncomplete -F _pmsync pmsync\n")
	return b.String()
}

func (c *cli) fishCompletion() string {
	var b strings.Builder
	b.WriteString("# fish completion for pmsync: pmsync completion fish > ~/.config/fish/completions/pmsync.fish\ncomplete -c pmsync -f\n")
	for _, cmd := range commands() {
		fmt.Fprintf(&b, "complete -c pmsync -n __fish_use_subcommand -a %s -d %s\n", cmd.name, fishQuote(cmd.summary))
	}
	for _, cmd := range commands() {
		fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
		cmd.define(c, fs)
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			line := fmt.Sprintf("complete -c pmsync -n '__fish_seen_subcommand_from %s' -l %s", cmd.name, f.Name)
			if name != "" {
				line += " -r"
				if v, ok := completionValues["--"+f.Name]; ok {
					line += " -a " + fishQuote(v)
				} else if f.Name == "config" || f.Name == "output" || f.Name == "db" {
					line += " -F"
				}
			}
			b.WriteString(line + " -d " + fishQuote(usage) + "\n")
		})
	}
	fmt.Fprintf(&b, "complete -c pmsync -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'\n")
	fmt.Fprintf(&b, "complete -c pmsync -n '__fish_seen_subcommand_from help' -a %s\n", fishQuote(strings.Join(commandNames(), " ")))
	return b.String()
}

func fishQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
