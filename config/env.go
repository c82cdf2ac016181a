package config

import (
	"bufio"
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"text/template"

	"github.com/kelseyhightower/envconfig"
)

// EnvPrefix starts the name of every environment override.
const EnvPrefix = "PMSYNC"

// overrides are the settings the environment may override. A nil field
// keeps the file's value. path is the key path each field overrides.
type overrides struct {
	Database       *string `envconfig:"DATABASE" path:"database"`
	Timezone       *string `envconfig:"TIMEZONE" path:"timezone"`
	HTTPListen     *string `envconfig:"HTTP_LISTEN" path:"http.listen"`
	LogLevel       *string `envconfig:"LOG_LEVEL" path:"log.level"`
	LogFormat      *string `envconfig:"LOG_FORMAT" path:"log.format"`
	ScheduleSync   *string `envconfig:"SCHEDULE_SYNC" path:"schedule.sync"`
	ScheduleRollup *string `envconfig:"SCHEDULE_ROLLUP" path:"schedule.rollup"`
}

// readOverrides fills overrides from env. envconfig names the variables
// (PMSYNC_ + the field's envconfig tag), but its Process reads only the
// process environment, and Load takes the environment as a function so
// that callers and tests decide what it holds. So envconfig lists the names
// (through Usaget) and the values are looked up through env. An empty value
// counts as unset, as a blank line in an env file usually means "no
// override".
func readOverrides(env func(string) (string, bool)) (overrides, map[string]string, error) {
	var o overrides
	var names bytes.Buffer
	tmpl := template.Must(template.New("names").Parse("{{range .}}{{.Name}} {{.Key}}\n{{end}}"))
	if err := envconfig.Usaget(EnvPrefix, &o, &names, tmpl); err != nil {
		return o, nil, fmt.Errorf("list environment overrides: %w", err)
	}
	set := map[string]string{} // key path → variable that set it
	v := reflect.ValueOf(&o).Elem()
	sc := bufio.NewScanner(&names)
	for sc.Scan() {
		field, key, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		val, found := env(key)
		if !found || val == "" {
			continue
		}
		f, _ := v.Type().FieldByName(field)
		v.FieldByName(field).Set(reflect.ValueOf(&val))
		set[f.Tag.Get("path")] = key
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
	} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
}
