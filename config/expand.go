package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// expand replaces ${VAR} and ${VAR:-default} in the document's scalar
// values with the environment's values, before anything is decoded, so
// that a file can leave host names, paths and ids to the deployment. $${
// stands for a literal ${. A variable that is unset (and has no default) is
// a problem naming it. The values of *_env keys are variable names and are
// never expanded: a secret's value still comes only through *_env or
// *_file.
func (l *loader) expand(n *yaml.Node, path, key string, depth int) {
	if n == nil || depth > 64 {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			l.expand(c, path, key, depth+1)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			l.expand(v, p, k.Value, depth+1)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			l.expand(c, fmt.Sprintf("%s[%d]", path, i), "", depth+1)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		if strings.HasSuffix(key, "_env") {
			l.decodeErrs = append(l.decodeErrs, path)
			l.add(Problem{File: l.file, Line: n.Line, Path: path,
				Msg: "names an environment variable itself; ${…} is not expanded here"})
			return
		}
		out, vars, err := expandString(n.Value, l.env)
		if err != nil {
			l.decodeErrs = append(l.decodeErrs, path)
			l.add(Problem{File: l.file, Line: n.Line, Path: path, Msg: err.Error()})
			return
		}
		if len(vars) > 0 {
			l.expanded[path] = vars
		}
		// The value is read as if its expansion had been written there
		// unquoted: "${PORT}" must be quoted in a flow mapping ({ } are
		// indicators there), yet its value 8080 is a number.
		n.Value, n.Tag, n.Style = out, "", 0
	}
}

// expandString expands s, returning the variables it used.
func expandString(s string, env func(string) (string, bool)) (string, []string, error) {
	var b strings.Builder
	var vars []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), vars, nil
		}
		if i > 0 && s[i-1] == '$' { // $${ is a literal ${
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", nil, fmt.Errorf("%q has ${ without a closing }", s)
		}
		expr := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validEnvName(name) {
			return "", nil, fmt.Errorf("${%s}: %q is not an environment variable name", expr, name)
		}
		v, ok := env(name)
		switch {
		case hasDef && (!ok || v == ""):
			v = def
		case !ok:
			return "", nil, fmt.Errorf("environment variable %s is not set (write ${%s:-default} to give a default)", name, name)
		}
		vars = append(vars, name)
		b.WriteString(v)
		s = s[i+end+1:]
	}
}

// validEnvName reports whether s is a portable environment variable name:
// letters, digits and underscores, not starting with a digit.
func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
