package deploy_test

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
	r := mustRender(t, base())
	kinds := map[string]int{}
	for _, o := range r.objects {
		if o["apiVersion"] == nil || o.kind() == "" || o.name() == "" {
			t.Errorf("object without apiVersion, kind or metadata.name: %v", o)
			continue
		}
		if len(o.name()) > 63 || !dnsLabel.MatchString(o.name()) {
			t.Errorf("%s name %q is not a DNS label", o.kind(), o.name())
		}
		if lookup(o, "metadata", "labels", "app.kubernetes.io/instance") != "demo" {
			t.Errorf("%s %s lacks the release's instance label", o.kind(), o.name())
		}
		kinds[o.kind()]++
	}
	for _, k := range []string{"Deployment", "ServiceAccount", "Secret", "ConfigMap", "PersistentVolumeClaim", "Service"} {
		if kinds[k] != 1 {
			t.Errorf("want one %s, got %d", k, kinds[k])
		}
	}
}

func TestDeploymentRunsOneWriterWithProbes(t *testing.T) {
	r := mustRender(t, base())
	d := r.one(t, "Deployment")
	if n, ok := lookup(d, "spec", "replicas").(int); !ok || n != 1 {
		t.Errorf("replicas = %v, want 1 (bbolt has a single writer)", lookup(d, "spec", "replicas"))
	}
	if s := lookup(d, "spec", "strategy", "type"); s != "Recreate" {
		t.Errorf("strategy = %v, want Recreate", s)
	}
	sel := lookup(d, "spec", "selector", "matchLabels").(map[string]any)
	podLabels := lookup(d, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range sel {
		if podLabels[k] != v {
			t.Errorf("selector %s=%v does not match the pod's labels %v", k, v, podLabels)
		}
	}

	c := container(t, d)
	env := envOf(c)
	port := portNamed(t, c, "http")
	if got := env["AKSBOT_HTTP_ADDR"].(map[string]any)["value"]; got != ":"+strconv.Itoa(port) {
		t.Errorf("AKSBOT_HTTP_ADDR = %v, want the container port :%d", got, port)
	}
	for probe, want := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if p := lookup(c, probe, "httpGet", "path"); p != want {
			t.Errorf("%s path = %v, want %s", probe, p, want)
		}
		if p := lookup(c, probe, "httpGet", "port"); p != "http" && p != port {
			t.Errorf("%s port = %v, want the http port", probe, p)
		}
	}
	if lookup(c, "resources", "requests") == nil || lookup(c, "resources", "limits") == nil {
		t.Errorf("container has no resource requests and limits: %v", c["resources"])
	}
	if got := lookup(d, "spec", "template", "metadata", "annotations", "checksum/config"); got == nil || got == "" {
		t.Error("no config checksum: a config change would not restart the bot")
	}
}

func TestDataVolumeIsThePVC(t *testing.T) {
	r := mustRender(t, base())
	d := r.one(t, "Deployment")
	c := container(t, d)
	vol := mountedAt(t, d, c, "/data")
	pvc := r.one(t, "PersistentVolumeClaim")
	if got := lookup(vol, "persistentVolumeClaim", "claimName"); got != pvc.name() {
		t.Errorf("/data is %v, want the claim %s", vol, pvc.name())
	}
	if db := envOf(c)["AKSBOT_DB"].(map[string]any)["value"].(string); path.Dir(db) != "/data" {
		t.Errorf("AKSBOT_DB = %s, not on the /data volume", db)
	}
	modes := lookup(pvc, "spec", "accessModes").([]any)
	if len(modes) != 1 || modes[0] != "ReadWriteOnce" {
		t.Errorf("PVC access modes = %v, want [ReadWriteOnce]", modes)
	}
	if lookup(pvc, "spec", "resources", "requests", "storage") != "1Gi" {
		t.Errorf("PVC size = %v", lookup(pvc, "spec", "resources", "requests", "storage"))
	}

	// An existing claim is mounted instead of a new one.
	r = mustRender(t, with(map[string]any{"persistence": map[string]any{"existingClaim": "kept-data"}}))
	if len(r.find("PersistentVolumeClaim")) != 0 {
		t.Error("a PVC is created although persistence.existingClaim is set")
	}
	d = r.one(t, "Deployment")
	if got := lookup(mountedAt(t, d, container(t, d), "/data"), "persistentVolumeClaim", "claimName"); got != "kept-data" {
		t.Errorf("claimName = %v, want kept-data", got)
	}

	// Without persistence the data file lives in an emptyDir.
	r = mustRender(t, with(map[string]any{"persistence": map[string]any{"enabled": false}}))
	if len(r.find("PersistentVolumeClaim")) != 0 {
		t.Error("a PVC is created although persistence is disabled")
	}
	d = r.one(t, "Deployment")
	if v := mountedAt(t, d, container(t, d), "/data"); v["emptyDir"] == nil {
		t.Errorf("/data is %v, want an emptyDir", v)
	}
	if !strings.Contains(r.notes, "emptyDir") {
		t.Errorf("NOTES do not warn that the data is lost with the pod:\n%s", r.notes)
	}
}

func TestSecurityContext(t *testing.T) {
	r := mustRender(t, base())
	d := r.one(t, "Deployment")
	pod := lookup(d, "spec", "template", "spec", "securityContext")
	if lookup(pod, "runAsNonRoot") != true || lookup(pod, "runAsUser") != 65532 || lookup(pod, "fsGroup") != 65532 {
		t.Errorf("pod securityContext = %v, want non-root 65532 with fsGroup 65532 (the PVC must be writable)", pod)
	}
	sc := container(t, d)["securityContext"]
	if lookup(sc, "readOnlyRootFilesystem") != true || lookup(sc, "allowPrivilegeEscalation") != false {
		t.Errorf("container securityContext = %v", sc)
	}
	drop, _ := lookup(sc, "capabilities", "drop").([]any)
	if len(drop) != 1 || drop[0] != "ALL" {
		t.Errorf("capabilities.drop = %v, want [ALL]", drop)
	}
	// A read-only root needs a writable /tmp for anything that writes scratch files.
	if v := mountedAt(t, d, container(t, d), "/tmp"); v["emptyDir"] == nil {
		t.Errorf("/tmp is %v, want an emptyDir", v)
	}
}

func TestWorkloadIdentity(t *testing.T) {
	r := mustRender(t, base())
	sa := r.one(t, "ServiceAccount")
	if got := lookup(sa, "metadata", "annotations", "azure.workload.identity/client-id"); got != clientID {
		t.Errorf("ServiceAccount client-id annotation = %v, want %s", got, clientID)
	}
	d := r.one(t, "Deployment")
	if got := lookup(d, "spec", "template", "metadata", "labels", "azure.workload.identity/use"); got != "true" {
		t.Errorf(`pod label azure.workload.identity/use = %#v, want the string "true"`, got)
	}
	if got := lookup(d, "spec", "template", "spec", "serviceAccountName"); got != sa.name() {
		t.Errorf("serviceAccountName = %v, want %s", got, sa.name())
	}
	if got := envOf(container(t, d))["AZURE_SUBSCRIPTION_ID"]; lookup(got, "value") != subID {
		t.Errorf("AZURE_SUBSCRIPTION_ID = %v, want %s", got, subID)
	}
	if strings.Contains(r.notes, "SIMULATED") {
		t.Errorf("NOTES call a real subscription simulated:\n%s", r.notes)
	}

	r = mustRender(t, with(map[string]any{"azure": map[string]any{"subscriptionId": "",
		"workloadIdentity": map[string]any{"enabled": false}}}))
	if got := lookup(r.one(t, "ServiceAccount"), "metadata", "annotations", "azure.workload.identity/client-id"); got != nil {
		t.Errorf("client-id annotation %v with workload identity disabled", got)
	}
	d = r.one(t, "Deployment")
	if got := lookup(d, "spec", "template", "metadata", "labels", "azure.workload.identity/use"); got != nil {
		t.Errorf("workload identity label %v with workload identity disabled", got)
	}
	if _, ok := envOf(container(t, d))["AZURE_SUBSCRIPTION_ID"]; ok {
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
	cm := r.one(t, "ConfigMap")
	text, ok := lookup(cm, "data", "aksbot.yaml").(string)
	if !ok {
		t.Fatalf("ConfigMap has no aksbot.yaml: %v", cm["data"])
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

	// The file is where AKSBOT_CONFIG points.
	d := r.one(t, "Deployment")
	c := container(t, d)
	cfgPath := envOf(c)["AKSBOT_CONFIG"].(map[string]any)["value"].(string)
	vol := mountedAt(t, d, c, path.Dir(cfgPath))
	if lookup(vol, "configMap", "name") != cm.name() || path.Base(cfgPath) != "aksbot.yaml" {
		t.Errorf("AKSBOT_CONFIG=%s is not the ConfigMap %s's aksbot.yaml (volume %v)", cfgPath, cm.name(), vol)
	}

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
	before := lookup(d, "spec", "template", "metadata", "annotations", "checksum/config")
	r2 := mustRender(t, base())
	if after := lookup(r2.one(t, "Deployment"), "spec", "template", "metadata", "annotations", "checksum/config"); after == before {
		t.Error("checksum/config did not change with the configuration")
	}
}

func TestSlackTokensComeFromTheSecret(t *testing.T) {
	r := mustRender(t, base())
	s := r.one(t, "Secret")
	c := container(t, r.one(t, "Deployment"))
	env := envOf(c)
	for name, want := range map[string]string{"SLACK_APP_TOKEN": appToken, "SLACK_BOT_TOKEN": botToken} {
		ref := lookup(env[name], "valueFrom", "secretKeyRef")
		if lookup(ref, "name") != s.name() {
			t.Errorf("%s comes from %v, want Secret %s", name, ref, s.name())
			continue
		}
		key, _ := lookup(ref, "key").(string)
		enc, _ := lookup(s, "data", key).(string)
		dec, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || string(dec) != want {
			t.Errorf("Secret key %s holds %q (err %v), want the %s value", key, dec, err, name)
		}
		if lookup(env[name], "value") != nil {
			t.Errorf("%s has a literal value in the Deployment", name)
		}
	}
}

func TestExistingSecretReplacesTheChartsSecret(t *testing.T) {
	over := map[string]any{
		"slack":  map[string]any{"appToken": "", "botToken": "", "existingSecret": "team-slack", "botTokenKey": "bot"},
		"config": map[string]any{"policy": map[string]any{"approvers": []any{"U012ABCDEF"}}},
	}
	r := mustRender(t, over)
	if n := len(r.find("Secret")); n != 0 {
		t.Errorf("%d Secrets rendered although slack.existingSecret is set", n)
	}
	env := envOf(container(t, r.one(t, "Deployment")))
	for name, key := range map[string]string{"SLACK_APP_TOKEN": "SLACK_APP_TOKEN", "SLACK_BOT_TOKEN": "bot"} {
		ref := lookup(env[name], "valueFrom", "secretKeyRef")
		if lookup(ref, "name") != "team-slack" || lookup(ref, "key") != key {
			t.Errorf("%s comes from %v, want team-slack/%s", name, ref, key)
		}
	}
	if got := lookup(r.one(t, "Deployment"), "spec", "template", "metadata", "annotations", "checksum/secret"); got != nil {
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
	svc := r.one(t, "Service")
	ports := lookup(svc, "spec", "ports").([]any)
	if len(ports) != 1 || lookup(ports[0], "targetPort") != "http" {
		t.Errorf("Service ports = %v, want one targeting the named port http", ports)
	}
	d := r.one(t, "Deployment")
	podLabels := lookup(d, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range lookup(svc, "spec", "selector").(map[string]any) {
		if podLabels[k] != v {
			t.Errorf("Service selector %s=%v does not select the pod", k, v)
		}
	}

	r = mustRender(t, with(map[string]any{"service": map[string]any{"enabled": false}}))
	if n := len(r.find("Service")); n != 0 {
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
	if !strings.Contains(r.notes, "kubectl -n aksbot logs -f deploy/"+r.one(t, "Deployment").name()) {
		t.Errorf("NOTES do not name the Deployment:\n%s", r.notes)
	}
}

func TestFullnameOverride(t *testing.T) {
	r := mustRender(t, with(map[string]any{"fullnameOverride": "chatops-bot"}))
	for _, o := range r.objects {
		if !strings.HasPrefix(o.name(), "chatops-bot") {
			t.Errorf("%s is named %q, not after fullnameOverride", o.kind(), o.name())
		}
	}
}

// container returns the Deployment's only container.
func container(t *testing.T, d object) map[string]any {
	t.Helper()
	cs, _ := lookup(d, "spec", "template", "spec", "containers").([]any)
	if len(cs) != 1 {
		t.Fatalf("want one container, got %d", len(cs))
	}
	return cs[0].(map[string]any)
}

// envOf indexes a container's env by name.
func envOf(c map[string]any) map[string]any {
	out := map[string]any{}
	list, _ := c["env"].([]any)
	for _, e := range list {
		m := e.(map[string]any)
		out[m["name"].(string)] = m
	}
	return out
}

func portNamed(t *testing.T, c map[string]any, name string) int {
	t.Helper()
	list, _ := c["ports"].([]any)
	for _, p := range list {
		if lookup(p, "name") == name {
			n, ok := lookup(p, "containerPort").(int)
			if !ok {
				t.Fatalf("port %s has containerPort %v", name, lookup(p, "containerPort"))
			}
			return n
		}
	}
	t.Fatalf("container has no port named %s: %v", name, c["ports"])
	return 0
}

// mountedAt returns the pod volume the container mounts at dir.
func mountedAt(t *testing.T, d object, c map[string]any, dir string) map[string]any {
	t.Helper()
	var volName string
	mounts, _ := c["volumeMounts"].([]any)
	for _, m := range mounts {
		if lookup(m, "mountPath") == dir {
			volName, _ = lookup(m, "name").(string)
		}
	}
	if volName == "" {
		t.Fatalf("nothing is mounted at %s: %v", dir, mounts)
	}
	vols, _ := lookup(d, "spec", "template", "spec", "volumes").([]any)
	for _, v := range vols {
		if lookup(v, "name") == volName {
			return v.(map[string]any)
		}
	}
	t.Fatalf("volume %s mounted at %s is not defined", volName, dir)
	return nil
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
