package config

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The Slack app manifest at the repository root is checked against Slack's published JSON schema
// (testdata/slack-manifest.schema.json, MIT licence beside it). No JSON-schema library is a
// dependency, so schemaChecker implements the keywords this schema uses on the manifest's paths,
// and fails on any other keyword it meets rather than skipping it.

const manifestPath = "../../manifest.yaml"

func loadManifest(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(manifestPath))
	if err != nil {
		t.Fatalf("read manifest: %v", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("parse manifest: %v", err)
	}
	return m
}

func loadSchema(t *testing.T) *schemaChecker {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "slack-manifest.schema.json"))
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	return &schemaChecker{root: root}
}

func TestManifestMatchesSchema(t *testing.T) {
	c := loadSchema(t)
	if errs := c.check(loadManifest(t)); len(errs) > 0 {
		t.Fatalf("manifest.yaml does not match Slack's schema:\n%s", strings.Join(errs, "\n"))
	}
}

// What aksbot needs from the app, beyond what the schema requires.
func TestManifestSettings(t *testing.T) {
	m := loadManifest(t)
	get := func(path string) any {
		var v any = m
		for _, k := range strings.Split(path, ".") {
			obj, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%s: %q is not under a mapping", path, k)
			}
			v = obj[k]
		}
		return v
	}
	for path, want := range map[string]any{
		"display_information.name":          "aksbot",
		"features.bot_user.display_name":    "aksbot",
		"settings.socket_mode_enabled":      true,
		"settings.interactivity.is_enabled": true,
		"settings.org_deploy_enabled":       false,
	} {
		if got := get(path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	cmds, _ := get("features.slash_commands").([]any)
	if len(cmds) != 2 {
		t.Fatalf("want exactly two slash commands (/aks and /eks), got %v", cmds)
	}
	for i, name := range []string{"/aks", "/eks"} {
		cmd, _ := cmds[i].(map[string]any)
		if cmd["command"] != name || cmd["should_escape"] != false || cmd["description"] == nil || cmd["usage_hint"] == nil {
			t.Errorf("slash command %d = %v, want %s with description, usage hint and should_escape false", i, cmd, name)
		}
		if _, ok := cmd["url"]; ok {
			t.Errorf("%s: a socket mode slash command must not have a request url", name)
		}
	}
	var scopes []string
	for _, s := range get("oauth_config.scopes.bot").([]any) {
		scopes = append(scopes, fmt.Sprint(s))
	}
	sort.Strings(scopes)
	want := []string{"channels:history", "chat:write", "chat:write.public", "commands", "groups:history", "usergroups:read", "users:read"}
	if !slices.Equal(scopes, want) {
		t.Errorf("bot scopes = %v, want %v", scopes, want)
	}
}

// The checker must find each kind of violation it claims to check, or a passing manifest test
// would mean nothing.
func TestSchemaCheckerFindsViolations(t *testing.T) {
	c := loadSchema(t)
	tests := []struct {
		name   string
		mutate func(m map[string]any)
		want   string
	}{
		{"missing required key", func(m map[string]any) { delete(sub(m, "display_information"), "name") }, `display_information: missing required key "name"`},
		{"missing required top-level key", func(m map[string]any) { delete(m, "display_information") }, `missing required key "display_information"`},
		{"unknown key", func(m map[string]any) { sub(m, "settings")["socket_mode"] = true }, `settings: unknown key "socket_mode"`},
		{"wrong type", func(m map[string]any) { sub(m, "settings")["socket_mode_enabled"] = "yes" }, "settings.socket_mode_enabled: want boolean"},
		{"too long", func(m map[string]any) { sub(m, "display_information")["name"] = strings.Repeat("a", 36) }, "display_information.name: 36 characters, at most 35"},
		{"too short", func(m map[string]any) { sub(m, "display_information")["description"] = "" }, "display_information.description: 0 characters, at least 1"},
		{"pattern", func(m map[string]any) { slash(m)["command"] = "aks" }, `features.slash_commands[0].command: "aks" does not match`},
		{"non-standard regex keyword", func(m map[string]any) { sub(m, "display_information")["background_color"] = "blue" }, `display_information.background_color: "blue" does not match`},
		{"array item type", func(m map[string]any) { sub(sub(m, "oauth_config"), "scopes")["bot"] = []any{"commands", 5} }, "oauth_config.scopes.bot[1]: want string"},
		{"empty array below minItems", func(m map[string]any) { sub(m, "features")["slash_commands"] = []any{} }, "features.slash_commands: 0 items, at least 1"},
		{"integer", func(m map[string]any) { sub(m, "_metadata")["major_version"] = 1.5 }, "_metadata.major_version: want integer"},
		{"unsupported keyword fails loudly", func(m map[string]any) { m["functions"] = map[string]any{} }, "unsupported schema keyword"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadManifest(t)
			tt.mutate(m)
			errs := c.check(m)
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tt.want) }) {
				t.Fatalf("errors %q do not include %q", errs, tt.want)
			}
		})
	}
}

func TestSchemaCheckerEnumAndUnique(t *testing.T) {
	c := &schemaChecker{root: map[string]any{}}
	schema := map[string]any{"type": "array", "uniqueItems": true, "maxItems": 2.0,
		"items": map[string]any{"type": "string", "enum": []any{"message", "global"}}}
	if errs := c.validate(schema, []any{"message", "global"}, "x"); len(errs) != 0 {
		t.Fatalf("valid value refused: %v", errs)
	}
	errs := c.validate(schema, []any{"global", "global", "other"}, "x")
	for _, want := range []string{"x: 3 items, at most 2", "x: items are not unique", `x[2]: "other" is not one of`} {
		if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, want) }) {
			t.Errorf("errors %q do not include %q", errs, want)
		}
	}
}

func sub(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }

func slash(m map[string]any) map[string]any {
	return sub(m, "features")["slash_commands"].([]any)[0].(map[string]any)
}

// schemaChecker validates a YAML value against a JSON schema (draft-07 style) for the keywords
// listed in validate. Values come from yaml.v3 (map[string]any, []any, int, float64, bool,
// string); the schema from encoding/json (numbers are float64).
type schemaChecker struct{ root map[string]any }

func (c *schemaChecker) check(v any) []string { return c.validate(c.root, v, "") }

// annotations do not constrain values.
var annotations = []string{"title", "description", "_note", "default", "format", "definitions", "$schema"}

func (c *schemaChecker) validate(schema map[string]any, v any, path string) []string {
	at := path
	if at == "" {
		at = "(root)"
	}
	if ref, ok := schema["$ref"].(string); ok {
		target, err := c.resolve(ref)
		if err != nil {
			return []string{at + ": " + err.Error()}
		}
		return c.validate(target, v, path)
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }

	if want, ok := schema["type"].(string); ok && !hasType(v, want) {
		fail("want %s, got %T (%v)", want, v, v)
		return errs // the other keywords assume the type
	}
	keys := make([]string, 0, len(schema))
	for k := range schema {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, kw := range keys {
		arg := schema[kw]
		switch kw {
		case "type":
		case "required":
			obj, _ := v.(map[string]any)
			for _, r := range arg.([]any) {
				if _, ok := obj[r.(string)]; !ok && obj != nil {
					fail("missing required key %q", r)
				}
			}
		case "properties":
			obj, _ := v.(map[string]any)
			props := arg.(map[string]any)
			for _, k := range sortedMapKeys(obj) {
				if ps, ok := props[k].(map[string]any); ok {
					errs = append(errs, c.validate(ps, obj[k], joinPath(path, k))...)
				}
			}
		case "additionalProperties":
			obj, _ := v.(map[string]any)
			props, _ := schema["properties"].(map[string]any)
			for _, k := range sortedMapKeys(obj) {
				if _, known := props[k]; known {
					continue
				}
				switch ap := arg.(type) {
				case bool:
					if !ap {
						fail("unknown key %q", k)
					}
				case map[string]any:
					errs = append(errs, c.validate(ap, obj[k], joinPath(path, k))...)
				}
			}
		case "items":
			arr, _ := v.([]any)
			for i, item := range arr {
				errs = append(errs, c.validate(arg.(map[string]any), item, fmt.Sprintf("%s[%d]", path, i))...)
			}
		case "minItems", "maxItems":
			if arr, ok := v.([]any); ok {
				n, limit := len(arr), int(arg.(float64))
				if kw == "minItems" && n < limit {
					fail("%d items, at least %d", n, limit)
				}
				if kw == "maxItems" && n > limit {
					fail("%d items, at most %d", n, limit)
				}
			}
		case "uniqueItems":
			if arr, ok := v.([]any); ok && arg == true {
				seen := map[string]bool{}
				for _, item := range arr {
					key := fmt.Sprintf("%T:%v", item, item)
					if seen[key] {
						fail("items are not unique")
						break
					}
					seen[key] = true
				}
			}
		case "minLength", "maxLength":
			if s, ok := v.(string); ok {
				n, limit := utf8.RuneCountInString(s), int(arg.(float64))
				if kw == "minLength" && n < limit {
					fail("%d characters, at least %d", n, limit)
				}
				if kw == "maxLength" && n > limit {
					fail("%d characters, at most %d", n, limit)
				}
			}
		case "pattern", "regex": // "regex" is Slack's own spelling on background_color; held to the same rule
			if s, ok := v.(string); ok {
				re, err := regexp.Compile(arg.(string))
				if err != nil {
					fail("pattern %q cannot be checked with Go regexp: %v", arg, err)
				} else if !re.MatchString(s) {
					fail("%q does not match %s", s, arg)
				}
			}
		case "enum":
			if !slices.ContainsFunc(arg.([]any), func(e any) bool { return sameValue(e, v) }) {
				fail("%q is not one of %v", v, arg)
			}
		default:
			if !slices.Contains(annotations, kw) {
				fail("unsupported schema keyword %q: extend the checker before relying on it", kw)
			}
		}
	}
	return errs
}

func (c *schemaChecker) resolve(ref string) (map[string]any, error) {
	name, ok := strings.CutPrefix(ref, "#/definitions/")
	if !ok {
		return nil, fmt.Errorf("unsupported $ref %q", ref)
	}
	defs, _ := c.root["definitions"].(map[string]any)
	target, ok := defs[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %q not found", ref)
	}
	return target, nil
}

func hasType(v any, want string) bool {
	switch want {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "integer":
		switch n := v.(type) {
		case int, int64, uint64:
			return true
		case float64:
			return n == math.Trunc(n) && !math.IsInf(n, 0)
		}
	case "number":
		switch v.(type) {
		case int, int64, uint64, float64:
			return true
		}
	}
	return false
}

func sameValue(a, b any) bool {
	if fa, ok := a.(float64); ok {
		switch n := b.(type) {
		case int:
			return fa == float64(n)
		case float64:
			return fa == n
		}
	}
	return reflect.DeepEqual(a, b)
}

func sortedMapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
