package charttest

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/config"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

const (
	awsAccount  = "012345678901"
	botRoleARN  = "arn:aws:iam::012345678901:role/aksbot"
	nodeRoleARN = "arn:aws:iam::012345678901:role/eks-nodes"
	// Shaped like AWS's documented example keys: the tests look for them where they must not be.
	fakeAccessKeyID     = "AKIAIOSFODNN7EXAMPLE"
	fakeSecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// awsValues are base() with EKS enabled in two regions of one account, plus over.
func awsValues(over map[string]any) map[string]any {
	v := with(map[string]any{"aws": map[string]any{
		"enabled": true,
		"regions": []any{"eu-west-1", "us-east-1"},
		"account": awsAccount,
	}})
	if over == nil {
		return v
	}
	return merge(v, map[string]any{"aws": over})
}

var irsa = map[string]any{"irsa": map[string]any{"roleArn": botRoleARN}}

// Environment variables the identity webhooks set: the chart must leave them to the webhooks (the
// IRSA webhook skips a container that already has AWS_ROLE_ARN or AWS_WEB_IDENTITY_TOKEN_FILE).
var webhookEnv = []string{"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"}

func TestAWSDisabledRendersNothingAboutAWS(t *testing.T) {
	r := mustRender(t, base())
	for file, text := range r.files {
		if strings.Contains(text, "eks.amazonaws.com") || strings.Contains(text, "AWS_") {
			t.Errorf("%s mentions AWS with aws.enabled false:\n%s", file, text)
		}
	}
	if strings.Contains(r.notes, "EKS") || strings.Contains(r.notes, "/eks") {
		t.Errorf("NOTES mention EKS with aws.enabled false:\n%s", r.notes)
	}
}

// checkNoTokenOfItsOwn checks that the chart leaves the AWS credentials to the identity webhooks:
// no API token, no projected token volume, none of the variables the webhooks set.
func checkNoTokenOfItsOwn(t *testing.T, r *rendered) {
	t.Helper()
	sa := one[corev1.ServiceAccount](t, r)
	d := one[appsv1.Deployment](t, r)
	pod := &d.Spec.Template.Spec
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("ServiceAccount automountServiceAccountToken = %v, want false", val(sa.AutomountServiceAccountToken))
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("pod automountServiceAccountToken = %v, want false: the EKS webhooks project their own token", val(pod.AutomountServiceAccountToken))
	}
	for _, v := range pod.Volumes {
		if v.Projected != nil {
			t.Errorf("volume %s is projected: the EKS webhook adds the token volume itself", v.Name)
		}
	}
	env := envOf(container(t, pod))
	for _, name := range webhookEnv {
		if _, ok := env[name]; ok {
			t.Errorf("%s is set by the chart: the webhook sets it", name)
		}
	}
	if pod.ServiceAccountName != sa.Name {
		t.Errorf("serviceAccountName = %s, want the chart's %s", pod.ServiceAccountName, sa.Name)
	}
}

func TestIRSAAnnotatesTheServiceAccount(t *testing.T) {
	r := mustRender(t, awsValues(irsa))
	sa := one[corev1.ServiceAccount](t, r)
	if got := sa.Annotations["eks.amazonaws.com/role-arn"]; got != botRoleARN {
		t.Errorf("eks.amazonaws.com/role-arn = %q, want %s", got, botRoleARN)
	}
	if got := sa.Annotations["eks.amazonaws.com/sts-regional-endpoints"]; got != "true" {
		t.Errorf(`eks.amazonaws.com/sts-regional-endpoints = %q, want "true"`, got)
	}
	// The Azure annotation is still there: one bot may run both clouds.
	if got := sa.Annotations["azure.workload.identity/client-id"]; got != clientID {
		t.Errorf("azure client-id annotation = %q, want %s", got, clientID)
	}
	checkNoTokenOfItsOwn(t, r)
	subject := "system:serviceaccount:aksbot:" + sa.Name
	if !strings.Contains(r.notes, botRoleARN) || !strings.Contains(r.notes, subject) {
		t.Errorf("NOTES do not name the role and the trust policy's subject %s:\n%s", subject, r.notes)
	}

	r = mustRender(t, awsValues(map[string]any{"irsa": map[string]any{"roleArn": botRoleARN, "stsRegionalEndpoints": false}}))
	if got, ok := one[corev1.ServiceAccount](t, r).Annotations["eks.amazonaws.com/sts-regional-endpoints"]; ok {
		t.Errorf("sts-regional-endpoints annotation %q with stsRegionalEndpoints false", got)
	}

	// The webhook reads the annotation when a pod is created: another role rolls the pods.
	before := one[appsv1.Deployment](t, mustRender(t, awsValues(irsa))).Spec.Template.Annotations["checksum/serviceaccount"]
	after := one[appsv1.Deployment](t, mustRender(t, awsValues(map[string]any{
		"irsa": map[string]any{"roleArn": "arn:aws:iam::012345678901:role/aksbot-2"}}))).Spec.Template.Annotations["checksum/serviceaccount"]
	if before == "" || before == after {
		t.Errorf("checksum/serviceaccount %q -> %q: a new role ARN would not restart the pods", before, after)
	}
}

func TestIRSARefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		vals map[string]any
		want string
	}{
		"not an ARN": {awsValues(map[string]any{"irsa": map[string]any{"roleArn": "aksbot"}}), "aws.irsa.roleArn is \"aksbot\""},
		"no ServiceAccount of the chart's": {merge(awsValues(irsa), map[string]any{"serviceAccount": map[string]any{"create": false, "name": "ops"}}),
			"aws.irsa.roleArn needs serviceAccount.create"},
		"annotation twice": {merge(awsValues(irsa), map[string]any{"serviceAccount": map[string]any{
			"annotations": map[string]any{"eks.amazonaws.com/role-arn": botRoleARN}}}), "keep only aws.irsa.roleArn"},
		"aws not enabled": {merge(awsValues(irsa), map[string]any{"aws": map[string]any{"enabled": false}}), "aws.enabled is false"},
	} {
		_, err := render(t, tc.vals)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one saying %q", name, err, tc.want)
		}
	}
}

func TestPodIdentityNeedsNoAnnotationAndNotesTheAssociation(t *testing.T) {
	r := mustRender(t, awsValues(map[string]any{"podIdentity": map[string]any{
		"enabled": true, "clusterName": "ops-eu", "roleArn": botRoleARN}}))
	sa := one[corev1.ServiceAccount](t, r)
	for k, v := range sa.Annotations {
		if strings.HasPrefix(k, "eks.amazonaws.com/") {
			t.Errorf("annotation %s: %s with Pod Identity, which needs none", k, v)
		}
	}
	checkNoTokenOfItsOwn(t, r)
	want := "aws eks create-pod-identity-association --cluster-name ops-eu --namespace aksbot --service-account " +
		sa.Name + " --role-arn " + botRoleARN
	if !strings.Contains(r.notes, want) {
		t.Errorf("NOTES lack the association command %q:\n%s", want, r.notes)
	}
	if !strings.Contains(r.notes, "rollout restart deploy/"+one[appsv1.Deployment](t, r).Name) {
		t.Errorf("NOTES do not say how to restart the bot after the association:\n%s", r.notes)
	}

	// serviceAccount.name fixes the name the association uses; without the cluster and role the
	// command has placeholders.
	r = mustRender(t, merge(awsValues(map[string]any{"podIdentity": map[string]any{"enabled": true}}),
		map[string]any{"serviceAccount": map[string]any{"name": "aksbot"}}))
	if got := one[corev1.ServiceAccount](t, r).Name; got != "aksbot" {
		t.Errorf("ServiceAccount is %s, want serviceAccount.name aksbot", got)
	}
	want = "aws eks create-pod-identity-association --cluster-name CLUSTER --namespace aksbot --service-account aksbot --role-arn ROLE_ARN"
	if !strings.Contains(r.notes, want) {
		t.Errorf("NOTES lack %q:\n%s", want, r.notes)
	}

	// An association names the account: the namespace's default one is refused.
	_, err := render(t, merge(awsValues(map[string]any{"podIdentity": map[string]any{"enabled": true}}),
		map[string]any{"serviceAccount": map[string]any{"create": false}}))
	if err == nil || !strings.Contains(err.Error(), "needs serviceAccount.name") {
		t.Errorf("Pod Identity on the default ServiceAccount: err = %v", err)
	}
}

func TestOneAWSIdentityAtATime(t *testing.T) {
	podIdentity := map[string]any{"enabled": true}
	secret := map[string]any{"name": "aws-keys"}
	for name, tc := range map[string]struct {
		over map[string]any
		want string
	}{
		"IRSA and Pod Identity": {map[string]any{"irsa": irsa["irsa"], "podIdentity": podIdentity},
			"aws.irsa.roleArn and aws.podIdentity.enabled are both set: use one AWS identity"},
		"IRSA and static keys": {map[string]any{"irsa": irsa["irsa"], "credentialsSecret": secret},
			"the AWS SDK would take the static keys first"},
		"Pod Identity and static keys": {map[string]any{"podIdentity": podIdentity, "credentialsSecret": secret},
			"the AWS SDK would take the static keys first"},
	} {
		_, err := render(t, awsValues(tc.over))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one saying %q", name, err, tc.want)
		}
	}
}

func TestStaticKeysOnlyFromAnExistingSecret(t *testing.T) {
	r := mustRender(t, awsValues(map[string]any{"credentialsSecret": map[string]any{
		"name": "aws-keys", "accessKeyIdKey": "id"}}))
	env := envOf(container(t, &one[appsv1.Deployment](t, r).Spec.Template.Spec))
	for name, key := range map[string]string{"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "AWS_SECRET_ACCESS_KEY"} {
		e := env[name]
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
			e.ValueFrom.SecretKeyRef.Name != "aws-keys" || e.ValueFrom.SecretKeyRef.Key != key {
			t.Errorf("%s = %+v, want the Secret aws-keys' key %s", name, e, key)
		}
	}
	// The chart's only Secret is the Slack one.
	for _, s := range all[corev1.Secret](r) {
		for k := range s.Data {
			if strings.HasPrefix(k, "AWS") {
				t.Errorf("Secret %s holds %s: AWS keys only come from an existing Secret", s.Name, k)
			}
		}
	}
	if !strings.Contains(r.notes, "Secret aws-keys") {
		t.Errorf("NOTES do not name the Secret the keys come from:\n%s", r.notes)
	}

	// There is no value for the keys themselves: keys put into values stop the rendering, so
	// they reach no manifest.
	for name, over := range map[string]map[string]any{
		"in credentialsSecret": {"credentialsSecret": map[string]any{"name": "aws-keys", "secretAccessKey": fakeSecretAccessKey}},
		"under aws":            {"accessKeyId": fakeAccessKeyID, "secretAccessKey": fakeSecretAccessKey},
	} {
		r, err := render(t, awsValues(over))
		if err == nil || !strings.Contains(err.Error(), "access keys never go into values") {
			t.Errorf("keys %s: err = %v, want a refusal", name, err)
		}
		if r != nil {
			for file, text := range r.files {
				if strings.Contains(text, fakeAccessKeyID) || strings.Contains(text, fakeSecretAccessKey) {
					t.Errorf("keys %s: %s contains an access key", name, file)
				}
			}
		}
	}
	// Other unknown keys are refused too, so a misspelt identity is not silently dropped.
	_, err := render(t, awsValues(map[string]any{"irsa": map[string]any{"rolearn": botRoleARN}}))
	if err == nil || !strings.Contains(err.Error(), "aws.irsa.rolearn is not a value of this chart") {
		t.Errorf("misspelt aws.irsa.roleArn: err = %v", err)
	}
}

func TestNotesWarnWithoutAnAWSIdentity(t *testing.T) {
	r := mustRender(t, awsValues(nil))
	if !strings.Contains(r.notes, "no AWS identity is set") {
		t.Errorf("NOTES do not warn that no identity is set:\n%s", r.notes)
	}
	if !strings.Contains(r.notes, "eu-west-1, us-east-1") || !strings.Contains(r.notes, "/eks help") {
		t.Errorf("NOTES do not name the regions or /eks:\n%s", r.notes)
	}
	if r := mustRender(t, awsValues(irsa)); strings.Contains(r.notes, "no AWS identity") {
		t.Errorf("NOTES warn about the identity although IRSA is set:\n%s", r.notes)
	}
}

// awsFile is the configuration's aws section as the chart writes it (names from internal/config,
// issue 12).
type awsFile struct {
	Regions  []string `yaml:"regions"`
	Account  string   `yaml:"account"`
	Clusters map[string]struct {
		NodeRole      string   `yaml:"nodeRole"`
		Subnets       []string `yaml:"subnets"`
		InstanceTypes []string `yaml:"instanceTypes"`
	} `yaml:"clusters"`
}

// renderedAWS returns the rendered configuration file's aws section (decoded strictly), its YAML
// node, and the whole file.
func renderedAWS(t *testing.T, vals map[string]any) (awsFile, *yaml.Node, string) {
	t.Helper()
	text := one[corev1.ConfigMap](t, mustRender(t, vals)).Data["aksbot.yaml"]
	var top map[string]yaml.Node
	if err := yaml.Unmarshal([]byte(text), &top); err != nil {
		t.Fatalf("aksbot.yaml: %v\n%s", err, text)
	}
	node, ok := top["aws"]
	if !ok {
		t.Fatalf("aksbot.yaml has no aws section:\n%s", text)
	}
	out, err := yaml.Marshal(&node)
	if err != nil {
		t.Fatal(err)
	}
	var f awsFile
	dec := yaml.NewDecoder(bytes.NewReader(out))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("aws section: %v\n%s", err, out)
	}
	return f, &node, text
}

func TestAWSValuesAreInTheConfigFile(t *testing.T) {
	clusters := map[string]any{"prod-eu": map[string]any{
		"nodeRole":      nodeRoleARN,
		"subnets":       []any{"subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788"},
		"instanceTypes": []any{"m6i.large"},
	}}
	f, node, text := renderedAWS(t, awsValues(map[string]any{"clusters": clusters}))
	if !reflect.DeepEqual(f.Regions, []string{"eu-west-1", "us-east-1"}) {
		t.Errorf("aws.regions = %v", f.Regions)
	}
	if f.Account != awsAccount {
		t.Errorf("aws.account = %q, want %s", f.Account, awsAccount)
	}
	c := f.Clusters["prod-eu"]
	if len(f.Clusters) != 1 || c.NodeRole != nodeRoleARN || len(c.Subnets) != 2 || c.Subnets[1] != "subnet-0f1e2d3c4b5a69788" ||
		!reflect.DeepEqual(c.InstanceTypes, []string{"m6i.large"}) {
		t.Errorf("aws.clusters = %+v", f.Clusters)
	}
	// The account stays a string in the file: as a number it would lose its leading zero.
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == "account" && node.Content[i+1].Tag != "!!str" {
			t.Errorf("aws.account is written as %s, want a string:\n%s", node.Content[i+1].Tag, text)
		}
	}

	// The bot reads the file. Until internal/config knows the aws section, it refuses the key,
	// and the rest of the file is checked alone.
	_, err := config.Parse([]byte(text))
	if err != nil && strings.HasPrefix(err.Error(), "aws: unknown key") {
		t.Logf("internal/config has no aws section yet (%v): parsing the file without it", err)
		var top map[string]any
		if err := yaml.Unmarshal([]byte(text), &top); err != nil {
			t.Fatal(err)
		}
		delete(top, "aws")
		rest, _ := yaml.Marshal(top)
		_, err = config.Parse(rest)
	}
	if err != nil {
		t.Errorf("the rendered aksbot.yaml is rejected by the bot: %v\n%s", err, text)
	}

	// Without clusters and account, only the regions are written.
	f, _, text = renderedAWS(t, awsValues(map[string]any{"account": ""}))
	if f.Account != "" || f.Clusters != nil || len(f.Regions) != 2 || strings.Contains(text, "account") {
		t.Errorf("aws section without account and clusters:\n%s", text)
	}
}

func TestAWSAccountIsTwelveDigits(t *testing.T) {
	// Unquoted in a values file (a float) or from --set (an integer), the leading zero is gone;
	// the chart writes it back.
	for _, n := range []any{float64(12345678901), int64(12345678901)} {
		if f, _, _ := renderedAWS(t, awsValues(map[string]any{"account": n})); f.Account != awsAccount {
			t.Errorf("aws.account %v (%T) is written as %q, want %s", n, n, f.Account, awsAccount)
		}
	}
	// A short one is refused, not padded.
	for a, shown := range map[any]string{"12345": "12345", int64(12345): "12345", float64(1234567890): "1234567890"} {
		_, err := render(t, awsValues(map[string]any{"account": a}))
		if err == nil || !strings.Contains(err.Error(), `aws.account is "`+shown+`": want the 12-digit AWS account ID`) {
			t.Errorf("account %v (%T): err = %v", a, a, err)
		}
	}
}

func TestAWSConfigRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		vals map[string]any
		want string
	}{
		"no regions": {awsValues(map[string]any{"regions": []any{}}), "aws.regions is empty"},
		"config.aws as well": {merge(awsValues(nil), map[string]any{"config": map[string]any{"aws": map[string]any{"regions": []any{"eu-west-1"}}}}),
			"config.aws is set while aws.enabled is true"},
	} {
		_, err := render(t, tc.vals)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one saying %q", name, err, tc.want)
		}
	}
}
