package config

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/sethvargo/go-envconfig"

	"github.com/pmsync/pmsync/config/yamlnode"
)

// EnvPrefix starts the name of every environment override.
const EnvPrefix = "PMSYNC"

// EnvConfig names the environment variable that holds the config file's
// path (read by the command line, not by Load).
const EnvConfig = EnvPrefix + "_CONFIG"

// overrides are the settings the environment may override. A nil field
// keeps the file's value. path is the key path each field overrides.
type overrides struct {
	Database         *string `env:"DATABASE, noinit" path:"database"`
	Timezone         *string `env:"TIMEZONE, noinit" path:"timezone"`
	HTTPListen       *string `env:"HTTP_LISTEN, noinit" path:"http.listen"`
	LogLevel         *string `env:"LOG_LEVEL, noinit" path:"log.level"`
	LogFormat        *string `env:"LOG_FORMAT, noinit" path:"log.format"`
	ScheduleSync     *string `env:"SCHEDULE_SYNC, noinit" path:"schedule.sync"`
	ScheduleRollup   *string `env:"SCHEDULE_ROLLUP, noinit" path:"schedule.rollup"`
	ScheduleDeletion *string `env:"SCHEDULE_DELETIONS, noinit" path:"schedule.deletions"`
}

// EnvOverride is one setting the environment may override.
type EnvOverride struct {
	Var  string // the variable, e.g. PMSYNC_DATABASE
	Path string // the key path it overrides, e.g. database
}

// EnvOverrides lists the settings the environment may override, in the
// order of the file's keys.
func EnvOverrides() []EnvOverride {
	t := reflect.TypeFor[overrides]()
	out := make([]EnvOverride, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		out = append(out, EnvOverride{Var: EnvPrefix + "_" + name, Path: f.Tag.Get("path")})
	}
	return out
}

// nonEmpty looks variables up through env, an empty value counting as
// unset: a blank line in an env file usually means "no override".
type nonEmpty func(string) (string, bool)

func (f nonEmpty) Lookup(key string) (string, bool) {
	v, ok := f(key)
	return v, ok && v != ""
}

// readOverrides decodes the overrides from env (envconfig does the
// decoding, through env rather than the process environment, so that
// callers and tests decide what it holds) and reports which key path each
// set value came from.
func readOverrides(env func(string) (string, bool)) (overrides, map[string]string, error) {
	var o overrides
	err := envconfig.ProcessWith(context.Background(), &envconfig.Config{
		Target:   &o,
		Lookuper: envconfig.PrefixLookuper(EnvPrefix+"_", nonEmpty(env)),
	})
	if err != nil {
		return o, nil, fmt.Errorf("read environment overrides: %w", err)
	}
	set := map[string]string{} // key path → variable that set it
	v := reflect.ValueOf(o)
	for i, ov := range EnvOverrides() {
		if !v.Field(i).IsNil() {
			set[ov.Path] = ov.Var
		}
	}
	return o, set, nil
}

// applyEnv overrides doc with the environment and remembers which keys came
// from it, so that a problem with one names the variable, not a line.
func (l *loader) applyEnv(doc *file) {
	o, set, err := readOverrides(l.env)
	if err != nil {
		l.add(Problem{File: l.file, Msg: err.Error()})
		return
	}
	l.fromEnv = set
	for _, f := range []struct {
		from *string
		to   *string
	}{
		{o.Database, &doc.databaseText},
		{o.Timezone, &doc.Timezone},
		{o.HTTPListen, &doc.HTTP.Listen},
		{o.LogLevel, &doc.Log.Level},
		{o.LogFormat, &doc.Log.Format},
		{o.ScheduleSync, &doc.Schedule.Sync},
		{o.ScheduleRollup, &doc.Schedule.Rollup},
		{o.ScheduleDeletion, &doc.Schedule.Deletions},
	} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
}

// UnknownEnv returns a warning for each PMSYNC_ variable among names (the
// process environment's, as NAME or NAME=value) that pmsync does not read:
// almost always a misspelt override, which would otherwise be ignored
// without a word. known are further names in use, such as the variables
// the config file's *_env keys name.
func UnknownEnv(names []string, known ...string) []string {
	valid := []string{EnvConfig}
	for _, o := range EnvOverrides() {
		valid = append(valid, o.Var)
	}
	var out []string
	for _, n := range names {
		n, _, _ = strings.Cut(n, "=")
		if !strings.HasPrefix(n, EnvPrefix+"_") || slices.Contains(valid, n) || slices.Contains(known, n) {
			continue
		}
		msg := fmt.Sprintf("environment variable %s is not one pmsync reads", n)
		best, bestDist := "", 4
		for _, v := range valid {
			if d := yamlnode.Distance(n, v); d < bestDist {
				best, bestDist = v, d
			}
		}
		if best != "" {
			msg += fmt.Sprintf("; did you mean %s?", best)
		} else {
			msg += " (overrides: " + strings.Join(valid[1:], ", ") + ")"
		}
		out = append(out, msg)
	}
	slices.Sort(out)
	return out
}
