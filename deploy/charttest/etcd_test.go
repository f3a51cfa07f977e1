package charttest

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// loadEtcd decodes every manifest in deploy/etcd strictly.
func loadEtcd(t *testing.T) *rendered {
	t.Helper()
	files, err := filepath.Glob("../etcd/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/etcd (err %v)", err)
	}
	r := &rendered{files: map[string]string{}}
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeAll(string(text))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		r.files[f] = string(text)
		r.objects = append(r.objects, objs...)
	}
	return r
}

// etcdFlags returns the container's --flag=value arguments; a flag given twice fails the test.
func etcdFlags(t *testing.T, c *corev1.Container) map[string]string {
	t.Helper()
	flags := map[string]string{}
	for _, a := range c.Args {
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok || !strings.HasPrefix(a, "--") {
			t.Fatalf("argument %q is not --flag=value", a)
		}
		if _, dup := flags[name]; dup {
			t.Errorf("--%s is given twice", name)
		}
		flags[name] = value
	}
	return flags
}

func TestEtcdStatefulSet(t *testing.T) {
	r := loadEtcd(t)
	sts := one[appsv1.StatefulSet](t, r)
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 3 {
		t.Fatalf("replicas = %v, want 3", val(sts.Spec.Replicas))
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy = %q: with OrderedReady the first member waits for a quorum forever", sts.Spec.PodManagementPolicy)
	}
	podLabels := sts.Spec.Template.Labels
	selects := func(what string, sel map[string]string) {
		t.Helper()
		if len(sel) == 0 {
			t.Errorf("%s has no selector", what)
		}
		for k, v := range sel {
			if podLabels[k] != v {
				t.Errorf("%s selector %s=%s does not select the members %v", what, k, v, podLabels)
			}
		}
	}
	selects("StatefulSet", sts.Spec.Selector.MatchLabels)

	// The headless Service names the members, also before they are ready.
	var svc *corev1.Service
	for _, s := range all[corev1.Service](r) {
		if s.Name == sts.Spec.ServiceName {
			svc = s
		}
	}
	if svc == nil {
		t.Fatalf("no Service %q (the StatefulSet's serviceName)", sts.Spec.ServiceName)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses {
		t.Errorf("Service %s: clusterIP %q, publishNotReadyAddresses %v; want a headless Service that publishes members before they are ready",
			svc.Name, svc.Spec.ClusterIP, svc.Spec.PublishNotReadyAddresses)
	}
	selects("Service", svc.Spec.Selector)

	pod := &sts.Spec.Template.Spec
	c := container(t, pod)
	if !regexp.MustCompile(`^(quay\.io/coreos/etcd:v|registry\.k8s\.io/etcd:)3\.6\.\d+(-0)?$`).MatchString(c.Image) {
		t.Errorf("image %q is not a pinned official etcd 3.6 release", c.Image)
	}
	env := envOf(c)
	for name, field := range map[string]string{"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"} {
		if ref := env[name].ValueFrom; ref == nil || ref.FieldRef == nil || ref.FieldRef.FieldPath != field {
			t.Errorf("%s = %+v, want the downward API's %s", name, env[name], field)
		}
	}
	flags := etcdFlags(t, c)
	if flags["name"] != "$(POD_NAME)" {
		t.Errorf("--name=%s, want the pod name", flags["name"])
	}

	// --initial-cluster names every member under the URL it advertises for itself.
	peerURL := func(member string) string {
		return fmt.Sprintf("https://%s.%s.$(POD_NAMESPACE).svc:2380", member, svc.Name)
	}
	if got, want := flags["initial-advertise-peer-urls"], peerURL("$(POD_NAME)"); got != want {
		t.Errorf("--initial-advertise-peer-urls=%s, want %s", got, want)
	}
	members := map[string]string{}
	for _, m := range strings.Split(flags["initial-cluster"], ",") {
		name, url, _ := strings.Cut(m, "=")
		members[name] = url
	}
	if len(members) != int(*sts.Spec.Replicas) {
		t.Errorf("--initial-cluster has %d members, the StatefulSet %d: %s", len(members), *sts.Spec.Replicas, flags["initial-cluster"])
	}
	for i := range int(*sts.Spec.Replicas) {
		name := fmt.Sprintf("%s-%d", sts.Name, i)
		if members[name] != peerURL(name) {
			t.Errorf("--initial-cluster has %s=%q, want %s", name, members[name], peerURL(name))
		}
	}
	if flags["initial-cluster-state"] != "new" || flags["initial-cluster-token"] == "" {
		t.Errorf("--initial-cluster-state=%s --initial-cluster-token=%s", flags["initial-cluster-state"], flags["initial-cluster-token"])
	}

	// TLS for clients and peers, with certificates required from both.
	for _, f := range []string{"listen-client-urls", "advertise-client-urls", "listen-peer-urls", "initial-advertise-peer-urls"} {
		if !strings.HasPrefix(flags[f], "https://") {
			t.Errorf("--%s=%s is not https", f, flags[f])
		}
	}
	for _, f := range []string{"client-cert-auth", "peer-client-cert-auth"} {
		if flags[f] != "true" {
			t.Errorf("--%s=%q, want true", f, flags[f])
		}
	}
	for _, f := range []string{"trusted-ca-file", "cert-file", "key-file", "peer-trusted-ca-file", "peer-cert-file", "peer-key-file"} {
		file := flags[f]
		v, ok := volumeAt(pod, c, path.Dir(file))
		if !ok || v.Secret == nil {
			t.Errorf("--%s=%s is not in a mounted Secret", f, file)
			continue
		}
		found := false
		for _, it := range v.Secret.Items {
			found = found || it.Path == path.Base(file)
		}
		if !found {
			t.Errorf("--%s=%s is not one of the Secret %s's items %+v", f, file, v.Secret.SecretName, v.Secret.Items)
		}
	}

	// The data directory is on the member's own claim.
	var claim *corev1.PersistentVolumeClaim
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(flags["data-dir"], m.MountPath+"/") || flags["data-dir"] == m.MountPath {
			for i := range sts.Spec.VolumeClaimTemplates {
				if sts.Spec.VolumeClaimTemplates[i].Name == m.Name {
					claim = &sts.Spec.VolumeClaimTemplates[i]
				}
			}
		}
	}
	if claim == nil {
		t.Fatalf("--data-dir=%s is not on a volumeClaimTemplate", flags["data-dir"])
	}
	if m := claim.Spec.AccessModes; len(m) != 1 || m[0] != corev1.ReadWriteOnce {
		t.Errorf("claim %s access modes = %v, want [ReadWriteOnce]", claim.Name, m)
	}
	if q := claim.Spec.Resources.Requests[corev1.ResourceStorage]; q.IsZero() {
		t.Errorf("claim %s requests no storage", claim.Name)
	}

	// One member per node.
	aff := pod.Affinity
	if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0 {
		t.Fatalf("no required pod anti-affinity: two members could share a node")
	}
	hostname := false
	for _, term := range aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		if term.TopologyKey == "kubernetes.io/hostname" && term.LabelSelector != nil {
			hostname = true
			selects("anti-affinity", term.LabelSelector.MatchLabels)
		}
	}
	if !hostname {
		t.Error("the required anti-affinity is not across kubernetes.io/hostname")
	}

	// Probes on the plain metrics listener, which serves /livez and /readyz.
	metrics := portNamed(t, c, "metrics")
	if !strings.HasSuffix(flags["listen-metrics-urls"], fmt.Sprintf(":%d", metrics)) || !strings.HasPrefix(flags["listen-metrics-urls"], "http://") {
		t.Errorf("--listen-metrics-urls=%s, want http on the metrics port %d", flags["listen-metrics-urls"], metrics)
	}
	for path, p := range map[string]*corev1.Probe{"/livez": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port != intstr.FromString("metrics") {
			t.Errorf("probe %s = %+v, want GET %s on the metrics port", path, p, path)
		}
	}

	// Drains take one member at a time.
	pdb := one[policyv1.PodDisruptionBudget](t, r)
	if mu := pdb.Spec.MaxUnavailable; mu == nil || *mu != intstr.FromInt32(1) {
		t.Errorf("etcd PodDisruptionBudget maxUnavailable = %v, want 1 (two of three keep the quorum)", mu)
	}
	if pdb.Spec.Selector == nil {
		t.Fatal("etcd PodDisruptionBudget has no selector")
	}
	selects("PodDisruptionBudget", pdb.Spec.Selector.MatchLabels)
}

// The endpoints the chart's tests and the README use are the names the etcd members advertise.
func TestEtcdAdvertisesTheEndpointsTheChartUses(t *testing.T) {
	sts := one[appsv1.StatefulSet](t, loadEtcd(t))
	adv := etcdFlags(t, container(t, &sts.Spec.Template.Spec))["advertise-client-urls"]
	for i, e := range etcdEndpoints {
		member := fmt.Sprintf("%s-%d", sts.Name, i)
		want := strings.NewReplacer("$(POD_NAME)", member, "$(POD_NAMESPACE)", "aksbot").Replace(adv)
		if e != want {
			t.Errorf("endpoint %d is %s, but the member advertises %s", i, e, want)
		}
	}
}
