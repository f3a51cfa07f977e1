package charttest

import (
	"encoding/base64"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/config"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Token-shaped test values: the tests look for them where they must not be.
const (
	appToken = "xapp-1-A0TEST-0000-deadbeefcafe"
	botToken = "xoxb-0000-1111-testtokenvalue"
	clientID = "11111111-2222-3333-4444-555555555555"
	subID    = "00000000-aaaa-bbbb-cccc-000000000000"
)

// base are the values an operator sets for a real install.
func base() map[string]any {
	return map[string]any{
		"slack": map[string]any{"appToken": appToken, "botToken": botToken},
		"azure": map[string]any{
			"subscriptionId":   subID,
			"workloadIdentity": map[string]any{"clientId": clientID},
		},
		"config": map[string]any{"policy": map[string]any{"approvers": []any{"U012ABCDEF"}}},
	}
}

// with returns base() with more overrides merged in.
func with(over map[string]any) map[string]any { return merge(base(), over) }

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func TestEveryObjectIsWellFormed(t *testing.T) {
	for mode, vals := range map[string]map[string]any{"bbolt": base(), "etcd": etcdValues(nil)} {
		r := mustRender(t, vals)
		kinds := map[string]int{}
		for _, o := range r.objects {
			if o.name() == "" {
				t.Errorf("%s: %s without metadata.name", mode, o.kind)
				continue
			}
			if len(o.name()) > 63 || !dnsLabel.MatchString(o.name()) {
				t.Errorf("%s: %s name %q is not a DNS label", mode, o.kind, o.name())
			}
			if o.v.GetLabels()["app.kubernetes.io/instance"] != "demo" {
				t.Errorf("%s: %s %s lacks the release's instance label", mode, o.kind, o.name())
			}
			kinds[o.kind]++
		}
		want := map[string]int{"Deployment": 1, "ServiceAccount": 1, "Secret": 1, "ConfigMap": 1, "PersistentVolumeClaim": 1, "Service": 1}
		if mode == "etcd" {
			want["PersistentVolumeClaim"] = 0
			want["PodDisruptionBudget"] = 1
		}
		for k, n := range want {
			if kinds[k] != n {
				t.Errorf("%s: want %d %s, got %d", mode, n, k, kinds[k])
			}
		}
	}
}

func TestDeploymentRunsOneWriterWithProbes(t *testing.T) {
	r := mustRender(t, base())
	d := one[appsv1.Deployment](t, r)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1 (bbolt has a single writer)", val(d.Spec.Replicas))
	}
	if s := d.Spec.Strategy; s.Type != appsv1.RecreateDeploymentStrategyType || s.RollingUpdate != nil {
		t.Errorf("strategy = %+v, want Recreate", s)
	}
	if n := len(all[policyv1.PodDisruptionBudget](r)); n != 0 {
		t.Errorf("%d PodDisruptionBudgets for a single replica", n)
	}
	if n := len(d.Spec.Template.Spec.TopologySpreadConstraints); n != 0 {
		t.Errorf("%d topology spread constraints for a single replica", n)
	}
	podLabels := d.Spec.Template.Labels
	for k, v := range d.Spec.Selector.MatchLabels {
		if podLabels[k] != v {
			t.Errorf("selector %s=%v does not match the pod's labels %v", k, v, podLabels)
		}
	}

	c := container(t, &d.Spec.Template.Spec)
	env := envOf(c)
	port := portNamed(t, c, "http")
	if got := env["AKSBOT_HTTP_ADDR"].Value; got != ":"+strconv.Itoa(int(port)) {
		t.Errorf("AKSBOT_HTTP_ADDR = %v, want the container port :%d", got, port)
	}
	if ref := env["AKSBOT_REPLICA_ID"].ValueFrom; ref == nil || ref.FieldRef == nil || ref.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("AKSBOT_REPLICA_ID = %+v, want the pod name", env["AKSBOT_REPLICA_ID"])
	}
	for _, name := range []string{"AKSBOT_ETCD_ENDPOINTS", "AKSBOT_ETCD_PASSWORD"} {
		if _, ok := env[name]; ok {
			t.Errorf("%s set without store.etcd.endpoints", name)
		}
	}
	for probe, want := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if want == nil || want.HTTPGet == nil {
			t.Errorf("no HTTP probe for %s", probe)
			continue
		}
		if want.HTTPGet.Path != probe {
			t.Errorf("probe path = %s, want %s", want.HTTPGet.Path, probe)
		}
		if p := want.HTTPGet.Port; p != intstr.FromString("http") && p != intstr.FromInt32(port) {
			t.Errorf("%s probe port = %v, want the http port", probe, p.String())
		}
	}
	if c.Resources.Requests == nil || c.Resources.Limits == nil {
		t.Errorf("container has no resource requests and limits: %+v", c.Resources)
	}
	if d.Spec.Template.Annotations["checksum/config"] == "" {
		t.Error("no config checksum: a config change would not restart the bot")
	}
}

func TestDataVolumeIsThePVC(t *testing.T) {
	r := mustRender(t, base())
	d := one[appsv1.Deployment](t, r)
	pod := &d.Spec.Template.Spec
	c := container(t, pod)
	vol := mountedAt(t, pod, c, "/data")
	pvc := one[corev1.PersistentVolumeClaim](t, r)
	if vol.PersistentVolumeClaim == nil || vol.PersistentVolumeClaim.ClaimName != pvc.Name {
		t.Errorf("/data is %+v, want the claim %s", vol, pvc.Name)
	}
	if db := envOf(c)["AKSBOT_DB"].Value; path.Dir(db) != "/data" {
		t.Errorf("AKSBOT_DB = %s, not on the /data volume", db)
	}
	if m := pvc.Spec.AccessModes; len(m) != 1 || m[0] != corev1.ReadWriteOnce {
		t.Errorf("PVC access modes = %v, want [ReadWriteOnce]", m)
	}
	if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "1Gi" {
		t.Errorf("PVC size = %s", got.String())
	}
	if pvc.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Errorf("PVC annotations = %v: uninstalling would delete the job history", pvc.Annotations)
	}

	// An existing claim is mounted instead of a new one.
	r = mustRender(t, with(map[string]any{"persistence": map[string]any{"existingClaim": "kept-data"}}))
	if n := len(all[corev1.PersistentVolumeClaim](r)); n != 0 {
		t.Error("a PVC is created although persistence.existingClaim is set")
	}
	d = one[appsv1.Deployment](t, r)
	if v := mountedAt(t, &d.Spec.Template.Spec, container(t, &d.Spec.Template.Spec), "/data"); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "kept-data" {
		t.Errorf("/data is %+v, want the claim kept-data", v)
	}

	// Without persistence the data file lives in an emptyDir.
	r = mustRender(t, with(map[string]any{"persistence": map[string]any{"enabled": false}}))
	if n := len(all[corev1.PersistentVolumeClaim](r)); n != 0 {
		t.Error("a PVC is created although persistence is disabled")
	}
	d = one[appsv1.Deployment](t, r)
	if v := mountedAt(t, &d.Spec.Template.Spec, container(t, &d.Spec.Template.Spec), "/data"); v.EmptyDir == nil {
		t.Errorf("/data is %+v, want an emptyDir", v)
	}
	if !strings.Contains(r.notes, "emptyDir") {
		t.Errorf("NOTES do not warn that the data is lost with the pod:\n%s", r.notes)
	}
}

func TestSecurityContext(t *testing.T) {
	r := mustRender(t, base())
	d := one[appsv1.Deployment](t, r)
	pod := d.Spec.Template.Spec.SecurityContext
	if pod == nil || !isTrue(pod.RunAsNonRoot) || !is(pod.RunAsUser, 65532) || !is(pod.FSGroup, 65532) {
		t.Errorf("pod securityContext = %+v, want non-root 65532 with fsGroup 65532 (the PVC must be writable)", pod)
	}
	c := container(t, &d.Spec.Template.Spec)
	sc := c.SecurityContext
	if sc == nil || !isTrue(sc.ReadOnlyRootFilesystem) || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Fatalf("container securityContext = %+v", sc)
	}
	if sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("capabilities = %+v, want drop [ALL]", sc.Capabilities)
	}
	// A read-only root needs a writable /tmp for anything that writes scratch files.
	if v := mountedAt(t, &d.Spec.Template.Spec, c, "/tmp"); v.EmptyDir == nil {
		t.Errorf("/tmp is %+v, want an emptyDir", v)
	}
}

func TestWorkloadIdentity(t *testing.T) {
	r := mustRender(t, base())
	sa := one[corev1.ServiceAccount](t, r)
	if got := sa.Annotations["azure.workload.identity/client-id"]; got != clientID {
		t.Errorf("ServiceAccount client-id annotation = %q, want %s", got, clientID)
	}
	d := one[appsv1.Deployment](t, r)
	// The label's value is a string in the typed object, so a YAML boolean true fails decoding.
	if got := d.Spec.Template.Labels["azure.workload.identity/use"]; got != "true" {
		t.Errorf(`pod label azure.workload.identity/use = %q, want "true"`, got)
	}
	if got := d.Spec.Template.Spec.ServiceAccountName; got != sa.Name {
		t.Errorf("serviceAccountName = %v, want %s", got, sa.Name)
	}
	if got := envOf(container(t, &d.Spec.Template.Spec))["AZURE_SUBSCRIPTION_ID"].Value; got != subID {
		t.Errorf("AZURE_SUBSCRIPTION_ID = %q, want %s", got, subID)
	}
	if strings.Contains(r.notes, "SIMULATED") {
		t.Errorf("NOTES call a real subscription simulated:\n%s", r.notes)
	}

	r = mustRender(t, with(map[string]any{"azure": map[string]any{"subscriptionId": "",
		"workloadIdentity": map[string]any{"enabled": false}}}))
	if got, ok := one[corev1.ServiceAccount](t, r).Annotations["azure.workload.identity/client-id"]; ok {
		t.Errorf("client-id annotation %q with workload identity disabled", got)
	}
	d = one[appsv1.Deployment](t, r)
	if got, ok := d.Spec.Template.Labels["azure.workload.identity/use"]; ok {
		t.Errorf("workload identity label %q with workload identity disabled", got)
	}
	if _, ok := envOf(container(t, &d.Spec.Template.Spec))["AZURE_SUBSCRIPTION_ID"]; ok {
		t.Error("AZURE_SUBSCRIPTION_ID set although empty: config rejects an empty GUID")
	}
	if !strings.Contains(r.notes, "SIMULATED") {
		t.Errorf("NOTES do not say the bot runs on the simulated cloud:\n%s", r.notes)
	}
}

func TestConfigMapIsAValidPolicyFileWithoutSecrets(t *testing.T) {
	r := mustRender(t, with(map[string]any{"config": map[string]any{
		"policy": map[string]any{"approvers": []any{"U012ABCDEF", "W0987ZYX"}, "channels": []any{"C0123OPS"}},
		"jobs":   map[string]any{"pollInterval": "30s"},
	}}))
	cm := one[corev1.ConfigMap](t, r)
	text, ok := cm.Data["aksbot.yaml"]
	if !ok {
		t.Fatalf("ConfigMap has no aksbot.yaml: %v", cm.Data)
	}
	f, err := config.Parse([]byte(text))
	if err != nil {
		t.Fatalf("the rendered aksbot.yaml is rejected by the bot: %v\n%s", err, text)
	}
	if got := f.Policy.Approvers; len(got) != 2 || got[0] != "U012ABCDEF" || got[1] != "W0987ZYX" {
		t.Errorf("approvers = %v", got)
	}
	if got := f.Policy.Channels; len(got) != 1 || got[0] != "C0123OPS" {
		t.Errorf("channels = %v", got)
	}
	if got := f.Jobs.PollInterval.String(); got != "30s" {
		t.Errorf("pollInterval = %s, want the override 30s", got)
	}
	if f.Azure.ResourceGroup != "rg-aks" {
		t.Errorf("resourceGroup = %q, want the values.yaml default", f.Azure.ResourceGroup)
	}
	if strings.Contains(text, "store") {
		t.Errorf("the configuration has a store section without store.etcd.endpoints:\n%s", text)
	}

	// The file is where AKSBOT_CONFIG points.
	d := one[appsv1.Deployment](t, r)
	checkConfigMounted(t, d, cm)

	// Tokens are only in the Secret: not in the ConfigMap, the other manifests, or NOTES.
	for file, out := range r.files {
		if file == "secret.yaml" {
			continue
		}
		for _, tok := range []string{appToken, botToken, base64.StdEncoding.EncodeToString([]byte(appToken)), base64.StdEncoding.EncodeToString([]byte(botToken))} {
			if strings.Contains(out, tok) {
				t.Errorf("%s contains a Slack token", file)
			}
		}
	}
	if strings.Contains(r.notes, appToken) || strings.Contains(r.notes, botToken) {
		t.Error("NOTES contain a Slack token")
	}

	// A config change changes the checksum, so the pod restarts to read it.
	before := d.Spec.Template.Annotations["checksum/config"]
	r2 := mustRender(t, base())
	if after := one[appsv1.Deployment](t, r2).Spec.Template.Annotations["checksum/config"]; after == before {
		t.Error("checksum/config did not change with the configuration")
	}
}

// checkConfigMounted checks that AKSBOT_CONFIG names the ConfigMap's aksbot.yaml as mounted.
func checkConfigMounted(t *testing.T, d *appsv1.Deployment, cm *corev1.ConfigMap) {
	t.Helper()
	pod := &d.Spec.Template.Spec
	c := container(t, pod)
	cfgPath := envOf(c)["AKSBOT_CONFIG"].Value
	vol := mountedAt(t, pod, c, path.Dir(cfgPath))
	if vol.ConfigMap == nil || vol.ConfigMap.Name != cm.Name || path.Base(cfgPath) != "aksbot.yaml" {
		t.Errorf("AKSBOT_CONFIG=%s is not the ConfigMap %s's aksbot.yaml (volume %+v)", cfgPath, cm.Name, vol)
	}
}

func TestSlackTokensComeFromTheSecret(t *testing.T) {
	r := mustRender(t, base())
	s := one[corev1.Secret](t, r)
	env := envOf(container(t, &one[appsv1.Deployment](t, r).Spec.Template.Spec))
	for name, want := range map[string]string{"SLACK_APP_TOKEN": appToken, "SLACK_BOT_TOKEN": botToken} {
		e := env[name]
		if e.Value != "" {
			t.Errorf("%s has a literal value in the Deployment", name)
		}
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != s.Name {
			t.Errorf("%s comes from %+v, want Secret %s", name, e.ValueFrom, s.Name)
			continue
		}
		// Data is []byte in the typed Secret: decoding has already checked the base64.
		if got := string(s.Data[e.ValueFrom.SecretKeyRef.Key]); got != want {
			t.Errorf("Secret key %s holds %q, want the %s value", e.ValueFrom.SecretKeyRef.Key, got, name)
		}
	}
}

func TestExistingSecretReplacesTheChartsSecret(t *testing.T) {
	over := map[string]any{
		"slack":  map[string]any{"appToken": "", "botToken": "", "existingSecret": "team-slack", "botTokenKey": "bot"},
		"config": map[string]any{"policy": map[string]any{"approvers": []any{"U012ABCDEF"}}},
	}
	r := mustRender(t, over)
	if n := len(all[corev1.Secret](r)); n != 0 {
		t.Errorf("%d Secrets rendered although slack.existingSecret is set", n)
	}
	d := one[appsv1.Deployment](t, r)
	env := envOf(container(t, &d.Spec.Template.Spec))
	for name, key := range map[string]string{"SLACK_APP_TOKEN": "SLACK_APP_TOKEN", "SLACK_BOT_TOKEN": "bot"} {
		ref := env[name].ValueFrom
		if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "team-slack" || ref.SecretKeyRef.Key != key {
			t.Errorf("%s comes from %+v, want team-slack/%s", name, ref, key)
		}
	}
	if got, ok := d.Spec.Template.Annotations["checksum/secret"]; ok {
		t.Errorf("checksum/secret %v for a Secret the chart does not render", got)
	}
}

func TestTokensAreRequiredWithoutExistingSecret(t *testing.T) {
	_, err := render(t, map[string]any{})
	if err == nil || !strings.Contains(err.Error(), "slack.appToken") {
		t.Fatalf("render without tokens: err = %v, want one naming slack.appToken", err)
	}
	_, err = render(t, map[string]any{"slack": map[string]any{"appToken": appToken}})
	if err == nil || !strings.Contains(err.Error(), "slack.botToken") {
		t.Fatalf("render without the bot token: err = %v, want one naming slack.botToken", err)
	}
}

func TestServiceIsOptionalAndTargetsTheHTTPPort(t *testing.T) {
	r := mustRender(t, base())
	svc := one[corev1.Service](t, r)
	if p := svc.Spec.Ports; len(p) != 1 || p[0].TargetPort != intstr.FromString("http") {
		t.Errorf("Service ports = %+v, want one targeting the named port http", p)
	}
	podLabels := one[appsv1.Deployment](t, r).Spec.Template.Labels
	for k, v := range svc.Spec.Selector {
		if podLabels[k] != v {
			t.Errorf("Service selector %s=%v does not select the pod", k, v)
		}
	}

	r = mustRender(t, with(map[string]any{"service": map[string]any{"enabled": false}}))
	if n := len(all[corev1.Service](r)); n != 0 {
		t.Errorf("%d Services with service.enabled false", n)
	}
}

func TestNotesWarnAboutMissingApprovers(t *testing.T) {
	r := mustRender(t, with(map[string]any{"config": map[string]any{"policy": map[string]any{"approvers": []any{}}}}))
	if !strings.Contains(r.notes, "approvers is empty") {
		t.Errorf("NOTES do not warn that Slack mode refuses to start without approvers:\n%s", r.notes)
	}
	r = mustRender(t, base())
	if strings.Contains(r.notes, "approvers is empty") {
		t.Errorf("NOTES warn about approvers although one is set:\n%s", r.notes)
	}
	if !strings.Contains(r.notes, "kubectl -n aksbot logs -f deploy/"+one[appsv1.Deployment](t, r).Name) {
		t.Errorf("NOTES do not name the Deployment:\n%s", r.notes)
	}
}

func TestFullnameOverride(t *testing.T) {
	r := mustRender(t, with(map[string]any{"fullnameOverride": "chatops-bot"}))
	for _, o := range r.objects {
		if !strings.HasPrefix(o.name(), "chatops-bot") {
			t.Errorf("%s is named %q, not after fullnameOverride", o.kind, o.name())
		}
	}
}

// TestValuesAreDocumented keeps values.yaml self-explaining: every top-level key has a comment,
// on itself or on one of its keys.
func TestValuesAreDocumented(t *testing.T) {
	data, err := os.ReadFile(path.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatalf("read values.yaml: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse values.yaml: %v", err)
	}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i], top.Content[i+1]
		documented := key.HeadComment != ""
		if val.Kind == yaml.MappingNode {
			for j := 0; j < len(val.Content); j += 2 {
				documented = documented || val.Content[j].HeadComment != ""
			}
		}
		if !documented {
			t.Errorf("values.yaml: %s has no comment", key.Value)
		}
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

func is(n *int64, want int64) bool { return n != nil && *n == want }
