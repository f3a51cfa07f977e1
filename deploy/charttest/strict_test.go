package charttest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The tests are only as good as the decoding: these documents are each wrong in one way that a
// lenient decoder (or a map[string]any) would let through, and the API server would refuse.
func TestStrictDecodingRefusesWhatTheAPIServerRefuses(t *testing.T) {
	const good = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  replicas: 1
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: c
          image: i
          env: [{name: FOO, value: "1"}]
`
	if _, err := decodeStrict([]byte(good)); err != nil {
		t.Fatalf("the valid document is refused: %v", err)
	}
	for name, bad := range map[string]string{
		"misspelt field":      strings.Replace(good, "replicas: 1", "replica: 1", 1),
		"wrong case":          strings.Replace(good, "replicas: 1", "Replicas: 1", 1),
		"duplicate field":     strings.Replace(good, "replicas: 1", "replicas: 1\n  replicas: 2", 1),
		"number for a string": strings.Replace(good, `value: "1"`, `value: 1`, 1),
		"unknown kind":        strings.Replace(good, "kind: Deployment", "kind: Deploymnet", 1),
		"field at the wrong level": strings.Replace(good, "      containers:",
			"      terminationGracePeriod: 30\n      containers:", 1),
	} {
		if _, err := decodeStrict([]byte(bad)); err == nil {
			t.Errorf("%s: decoded without error:\n%s", name, bad)
		}
	}
}

// A misspelt field in a template fails the chart's rendering in these tests: a copy of the chart
// with one field name broken must not render.
func TestMisspeltTemplateFieldFailsRendering(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "aksbot")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "templates", "deployment.yaml")
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(text), "terminationGracePeriodSeconds:", "terminationGracePeriodSecond:", 1)
	if broken == string(text) {
		t.Fatal("deployment.yaml has no terminationGracePeriodSeconds to break")
	}
	if err := os.WriteFile(file, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := renderDir(dir, base()); err == nil || !strings.Contains(err.Error(), "terminationGracePeriodSecond") {
		t.Errorf("the broken chart renders (err %v)", err)
	}
	if _, err := renderDir(chartDir, base()); err != nil {
		t.Errorf("the chart itself does not render: %v", err)
	}
}
