package deploy_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// The chart is rendered here with text/template and the few Sprig/Helm functions it uses, so
// the test needs no helm binary. The semantics follow Helm 3: every file under templates/ is
// parsed into one set, named "<chart>/templates/<file>"; files starting with "_" only define
// templates; NOTES.txt is rendered apart from the manifests. Unlike Helm, a missing value key is
// an error here, so that a misspelt .Values path fails the test instead of rendering empty.

const chartDir = "helm/aksbot"

// rendered is one chart rendering: the manifests by template file, and NOTES.txt.
type rendered struct {
	files   map[string]string // file name under templates/ -> rendered text
	objects []object          // every YAML document of every manifest, in file order
	notes   string
}

// object is one Kubernetes object as parsed YAML.
type object map[string]any

func (o object) kind() string { s, _ := o["kind"].(string); return s }
func (o object) name() string { s, _ := lookup(o, "metadata", "name").(string); return s }

// render renders the chart with its values.yaml merged with overrides (overrides win; maps merge).
func render(t *testing.T, overrides map[string]any) (*rendered, error) {
	t.Helper()
	chartYAML, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatalf("read Chart.yaml: %v", err)
	}
	var chart struct {
		APIVersion string `yaml:"apiVersion"`
		Name       string `yaml:"name"`
		Version    string `yaml:"version"`
		AppVersion string `yaml:"appVersion"`
	}
	if err := yaml.Unmarshal(chartYAML, &chart); err != nil {
		t.Fatalf("parse Chart.yaml: %v", err)
	}
	if chart.APIVersion != "v2" || chart.Name == "" || chart.Version == "" {
		t.Fatalf("Chart.yaml: want apiVersion v2 with name and version, got %+v", chart)
	}
	valuesYAML, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatalf("read values.yaml: %v", err)
	}
	values := map[string]any{}
	if err := yaml.Unmarshal(valuesYAML, &values); err != nil {
		t.Fatalf("parse values.yaml: %v", err)
	}
	values = merge(values, overrides)

	tpl := template.New(chart.Name).Option("missingkey=error")
	tpl.Funcs(funcs(tpl))
	entries, err := os.ReadDir(filepath.Join(chartDir, "templates"))
	if err != nil {
		t.Fatalf("list templates: %v", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		text, err := os.ReadFile(filepath.Join(chartDir, "templates", e.Name()))
		if err != nil {
			t.Fatalf("read template: %v", err)
		}
		full := path.Join(chart.Name, "templates", e.Name())
		if _, err := tpl.New(full).Parse(string(text)); err != nil {
			t.Fatalf("parse template %s: %v", e.Name(), err)
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)

	r := &rendered{files: map[string]string{}}
	for _, name := range names {
		if strings.HasPrefix(name, "_") {
			continue
		}
		full := path.Join(chart.Name, "templates", name)
		data := map[string]any{
			"Values":   values,
			"Release":  map[string]any{"Name": "demo", "Namespace": "aksbot", "Service": "Helm", "IsInstall": true},
			"Chart":    map[string]any{"Name": chart.Name, "Version": chart.Version, "AppVersion": chart.AppVersion},
			"Template": map[string]any{"Name": full, "BasePath": path.Join(chart.Name, "templates")},
		}
		var buf bytes.Buffer
		if err := tpl.ExecuteTemplate(&buf, full, data); err != nil {
			return nil, fmt.Errorf("render %s: %w", name, err)
		}
		out := buf.String()
		if name == "NOTES.txt" {
			r.notes = out
			continue
		}
		r.files[name] = out
		dec := yaml.NewDecoder(strings.NewReader(out))
		for {
			// Decoded as a plain map: yaml.v3 would give nested maps the named type too.
			var o map[string]any
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s does not parse as YAML: %v\n%s", name, err, out)
			}
			if o != nil {
				r.objects = append(r.objects, object(o))
			}
		}
	}
	return r, nil
}

// mustRender renders and fails the test on a rendering error.
func mustRender(t *testing.T, overrides map[string]any) *rendered {
	t.Helper()
	r, err := render(t, overrides)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// find returns the objects of a kind.
func (r *rendered) find(kind string) []object {
	var out []object
	for _, o := range r.objects {
		if o.kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// one returns the single object of a kind, failing the test when there is not exactly one.
func (r *rendered) one(t *testing.T, kind string) object {
	t.Helper()
	objs := r.find(kind)
	if len(objs) != 1 {
		t.Fatalf("want exactly one %s, got %d", kind, len(objs))
	}
	return objs[0]
}

// merge returns base with over deep-merged into it.
func merge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		bm, ok1 := out[k].(map[string]any)
		om, ok2 := v.(map[string]any)
		if ok1 && ok2 {
			out[k] = merge(bm, om)
			continue
		}
		out[k] = v
	}
	return out
}

// lookup follows map keys and returns nil when one is missing.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		switch m := v.(type) {
		case object:
			v = m[k]
		case map[string]any:
			v = m[k]
		default:
			return nil
		}
	}
	return v
}

// funcs are the Sprig and Helm functions the chart uses, with their Helm semantics.
func funcs(t *template.Template) template.FuncMap {
	return template.FuncMap{
		"include": func(name string, data any) (string, error) {
			var buf bytes.Buffer
			if err := t.ExecuteTemplate(&buf, name, data); err != nil {
				return "", err
			}
			return buf.String(), nil
		},
		"required": func(msg string, v any) (any, error) {
			if v == nil {
				return nil, errors.New(msg)
			}
			if s, ok := v.(string); ok && s == "" {
				return nil, errors.New(msg)
			}
			return v, nil
		},
		"fail": func(msg string) (string, error) { return "", errors.New(msg) },
		"default": func(d any, given ...any) any {
			if len(given) == 0 || empty(given[0]) {
				return d
			}
			return given[0]
		},
		"toYaml": func(v any) (string, error) {
			var buf bytes.Buffer
			enc := yaml.NewEncoder(&buf)
			enc.SetIndent(2)
			if err := enc.Encode(v); err != nil {
				return "", err
			}
			if err := enc.Close(); err != nil {
				return "", err
			}
			return strings.TrimSuffix(buf.String(), "\n"), nil
		},
		"quote": func(args ...any) string {
			var out []string
			for _, a := range args {
				if a != nil {
					out = append(out, fmt.Sprintf("%q", fmt.Sprint(a)))
				}
			}
			return strings.Join(out, " ")
		},
		"indent":  indent,
		"nindent": func(n int, s string) string { return "\n" + indent(n, s) },
		"trunc": func(n int, s string) string {
			if n >= 0 && len(s) > n {
				return s[:n]
			}
			return s
		},
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
		"contains":   func(substr, s string) bool { return strings.Contains(s, substr) },
		"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
		"b64enc":     func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"sha256sum": func(s string) string {
			h := sha256.Sum256([]byte(s))
			return hex.EncodeToString(h[:])
		},
	}
}

func indent(n int, s string) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

// empty is Sprig's notion of an empty value, which default and if-like helpers use.
func empty(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return rv.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	default:
		return rv.IsZero()
	}
}
