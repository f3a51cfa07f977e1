package charttest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const chartDir = "../helm/aksbot"

// rendered is one rendering of the chart, as `helm template` would print it.
type rendered struct {
	files   map[string]string // file name under templates/ -> rendered text
	objects []object          // every object of every manifest, by file name, then in file order
	notes   string
}

// object is one rendered Kubernetes object, decoded into its k8s.io/api type.
type object struct {
	file string
	kind string
	v    metav1.Object // a pointer to the typed object, e.g. *appsv1.Deployment
}

func (o object) name() string { return o.v.GetName() }

// render renders the chart with Helm's engine, with values.yaml and overrides merged as
// `helm template demo -n aksbot -f overrides.yaml` merges them. A rendering error (fail,
// required) is returned; an object that does not decode strictly fails the test.
func render(t *testing.T, overrides map[string]any) (*rendered, error) {
	t.Helper()
	r, err := renderDir(chartDir, overrides)
	var de *decodeError
	if errors.As(err, &de) {
		t.Fatal(err)
	}
	return r, err
}

// decodeError is a rendered manifest that is no valid Kubernetes object.
type decodeError struct {
	file string
	err  error
	text string
}

func (e *decodeError) Error() string { return fmt.Sprintf("%s: %v\n%s", e.file, e.err, e.text) }
func (e *decodeError) Unwrap() error { return e.err }

// renderDir renders the chart in dir. Strict makes a reference to a value key that does not exist
// an error, so a misspelt .Values path fails instead of rendering empty.
func renderDir(dir string, overrides map[string]any) (*rendered, error) {
	ch, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load the chart: %w", err)
	}
	vals, err := util.ToRenderValues(ch, overrides,
		common.ReleaseOptions{Name: "demo", Namespace: "aksbot", Revision: 1, IsInstall: true}, nil)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	out, err := engine.Engine{Strict: true}.RenderWithContext(context.Background(), ch, vals)
	if err != nil {
		return nil, err
	}

	r := &rendered{files: map[string]string{}}
	var names []string
	for full, text := range out {
		name, ok := strings.CutPrefix(full, "aksbot/templates/")
		if !ok || strings.HasPrefix(path.Base(name), "_") {
			return nil, fmt.Errorf("unexpected rendered file %s", full)
		}
		if name == "NOTES.txt" {
			r.notes = text
			continue
		}
		r.files[name] = text
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		objs, err := decodeAll(r.files[name])
		if err != nil {
			return nil, &decodeError{file: name, err: err, text: r.files[name]}
		}
		for _, o := range objs {
			o.file = name
			r.objects = append(r.objects, o)
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

// types maps apiVersion and kind to the Go type of every kind the chart and the etcd manifests
// may render. A kind missing here is an error, so a new template has to be added here first.
var types = map[string]func() metav1.Object{
	"v1/ConfigMap":                  func() metav1.Object { return new(corev1.ConfigMap) },
	"v1/PersistentVolumeClaim":      func() metav1.Object { return new(corev1.PersistentVolumeClaim) },
	"v1/Secret":                     func() metav1.Object { return new(corev1.Secret) },
	"v1/Service":                    func() metav1.Object { return new(corev1.Service) },
	"v1/ServiceAccount":             func() metav1.Object { return new(corev1.ServiceAccount) },
	"apps/v1/Deployment":            func() metav1.Object { return new(appsv1.Deployment) },
	"apps/v1/StatefulSet":           func() metav1.Object { return new(appsv1.StatefulSet) },
	"policy/v1/PodDisruptionBudget": func() metav1.Object { return new(policyv1.PodDisruptionBudget) },
}

// decodeAll splits a multi-document YAML stream and decodes each object strictly.
func decodeAll(text string) ([]object, error) {
	var out []object
	rd := k8syaml.NewYAMLReader(bufio.NewReader(strings.NewReader(text)))
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		o, err := decodeStrict(doc)
		if err != nil {
			return nil, err
		}
		if o.v != nil {
			out = append(out, o)
		}
	}
}

// decodeStrict decodes one YAML document into its k8s.io/api type the way the API server's strict
// field validation does: the YAML is converted to JSON without looking at the target type (so
// `value: 8080` for a string is an error, as with kubectl), then decoded case-sensitively,
// refusing unknown and duplicate fields. An empty document gives an object with a nil v.
func decodeStrict(doc []byte) (object, error) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return object{}, err
	}
	if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
		return object{}, nil
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(j, &tm); err != nil {
		return object{}, err
	}
	newT, ok := types[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return object{}, fmt.Errorf("no Go type for apiVersion %q kind %q", tm.APIVersion, tm.Kind)
	}
	v := newT()
	strictErrs, err := sigsjson.UnmarshalStrict(j, v)
	if err != nil {
		return object{}, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if len(strictErrs) > 0 {
		return object{}, fmt.Errorf("%s %s: %w", tm.Kind, v.GetName(), errors.Join(strictErrs...))
	}
	return object{kind: tm.Kind, v: v}, nil
}

// all returns the objects of type T.
func all[T any](r *rendered) []*T {
	var out []*T
	for _, o := range r.objects {
		if v, ok := any(o.v).(*T); ok {
			out = append(out, v)
		}
	}
	return out
}

// one returns the single object of type T, failing the test when there is not exactly one.
func one[T any](t *testing.T, r *rendered) *T {
	t.Helper()
	objs := all[T](r)
	if len(objs) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, got %d", zero, len(objs))
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

// container returns the pod's only container.
func container(t *testing.T, pod *corev1.PodSpec) *corev1.Container {
	t.Helper()
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	return &pod.Containers[0]
}

// envOf indexes a container's env by name.
func envOf(c *corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

func portNamed(t *testing.T, c *corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container has no port named %s: %v", name, c.Ports)
	return 0
}

// mountedAt returns the pod volume the container mounts at dir.
func mountedAt(t *testing.T, pod *corev1.PodSpec, c *corev1.Container, dir string) corev1.Volume {
	t.Helper()
	v, ok := volumeAt(pod, c, dir)
	if !ok {
		t.Fatalf("no volume is mounted at %s: %v", dir, c.VolumeMounts)
	}
	return v
}

func volumeAt(pod *corev1.PodSpec, c *corev1.Container, dir string) (corev1.Volume, bool) {
	for _, m := range c.VolumeMounts {
		if m.MountPath != dir {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name {
				return v, true
			}
		}
	}
	return corev1.Volume{}, false
}

// val is what a pointer field holds, for messages.
func val[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}
