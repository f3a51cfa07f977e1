package charttest

import (
	"bytes"
	"encoding/json"
	"os"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const awsDir = "../aws"

// policy is an IAM policy document. Action, Resource and the condition values may be a string or
// a list in IAM's grammar; stringList decodes both.
type policy struct {
	Version   string
	Statement []struct {
		Sid       string
		Effect    string
		Principal map[string]stringList
		Action    stringList
		Resource  stringList
		Condition map[string]map[string]stringList
	}
}

type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// readPolicy decodes a JSON file in deploy/aws strictly: an unknown element (a misspelt
// "Resources") is an error, as IAM would refuse it.
func readPolicy(t *testing.T, name string) policy {
	t.Helper()
	data, err := os.ReadFile(path.Join(awsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p policy
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if p.Version != "2012-10-17" {
		t.Errorf("%s: Version %q, want 2012-10-17 (the older version has no policy variables)", name, p.Version)
	}
	for i, s := range p.Statement {
		if s.Effect != "Allow" {
			t.Errorf("%s: statement %d has Effect %q", name, i, s.Effect)
		}
	}
	return p
}

// The EKS and IAM calls the bot makes (internal/eks), and the resource types the Service
// Authorization Reference gives each action: ListClusters takes none ("*"); DescribeUpdate needs
// the cluster and may name the node group (no "update" resource type exists).
var (
	clusterARN   = "arn:aws:eks:*:ACCOUNT_ID:cluster/*"
	nodegroupARN = "arn:aws:eks:*:ACCOUNT_ID:nodegroup/*/*/*"
	leastActions = map[string][]string{
		"eks:ListClusters":           {"*"},
		"eks:DescribeCluster":        {clusterARN},
		"eks:ListNodegroups":         {clusterARN},
		"eks:CreateNodegroup":        {clusterARN},
		"eks:DescribeNodegroup":      {nodegroupARN},
		"eks:UpdateNodegroupConfig":  {nodegroupARN},
		"eks:UpdateNodegroupVersion": {nodegroupARN},
		"eks:DeleteNodegroup":        {nodegroupARN},
		"eks:DescribeUpdate":         {clusterARN, nodegroupARN},
		"iam:PassRole":               {"arn:aws:iam::ACCOUNT_ID:role/NODE_ROLE_NAME"},
	}
)

func TestIAMPolicyIsTheLeastTheBotNeeds(t *testing.T) {
	p := readPolicy(t, "iam-policy.json")
	got := map[string][]string{}
	for _, s := range p.Statement {
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("action %s is a wildcard", a)
			}
			got[a] = append(got[a], s.Resource...)
			if a == "iam:PassRole" {
				if c := s.Condition["StringEquals"]["iam:PassedToService"]; !reflect.DeepEqual([]string(c), []string{"eks.amazonaws.com"}) {
					t.Errorf("iam:PassRole condition iam:PassedToService = %v, want eks.amazonaws.com", c)
				}
			} else if s.Condition != nil {
				t.Errorf("%s has a condition %v", a, s.Condition)
			}
		}
	}
	for a, want := range leastActions {
		res := got[a]
		slices.Sort(res)
		want = slices.Sorted(slices.Values(want))
		if !reflect.DeepEqual(res, want) {
			t.Errorf("%s on %v, want %v", a, res, want)
		}
	}
	for a := range got {
		if _, ok := leastActions[a]; !ok {
			t.Errorf("%s is allowed but the bot does not call it", a)
		}
	}
}

func TestTrustPolicies(t *testing.T) {
	irsa := readPolicy(t, "irsa-trust-policy.json")
	if len(irsa.Statement) != 1 {
		t.Fatalf("irsa-trust-policy.json: %d statements, want 1", len(irsa.Statement))
	}
	s := irsa.Statement[0]
	provider := "oidc.eks.REGION.amazonaws.com/id/OIDC_ID"
	if f := s.Principal["Federated"]; len(f) != 1 || f[0] != "arn:aws:iam::ACCOUNT_ID:oidc-provider/"+provider {
		t.Errorf("IRSA principal = %v, want the cluster's OIDC provider", s.Principal)
	}
	if !reflect.DeepEqual([]string(s.Action), []string{"sts:AssumeRoleWithWebIdentity"}) {
		t.Errorf("IRSA action = %v", s.Action)
	}
	eq := s.Condition["StringEquals"]
	if v := eq[provider+":sub"]; len(v) != 1 || v[0] != "system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT" {
		t.Errorf("IRSA sub = %v: the role must trust the bot's ServiceAccount only", v)
	}
	if v := eq[provider+":aud"]; len(v) != 1 || v[0] != "sts.amazonaws.com" {
		t.Errorf("IRSA aud = %v, want sts.amazonaws.com", v)
	}

	pi := readPolicy(t, "pod-identity-trust-policy.json")
	if len(pi.Statement) != 1 {
		t.Fatalf("pod-identity-trust-policy.json: %d statements, want 1", len(pi.Statement))
	}
	s = pi.Statement[0]
	if sv := s.Principal["Service"]; len(sv) != 1 || sv[0] != "pods.eks.amazonaws.com" {
		t.Errorf("Pod Identity principal = %v, want the service pods.eks.amazonaws.com", s.Principal)
	}
	if a := slices.Sorted(slices.Values(s.Action)); !reflect.DeepEqual(a, []string{"sts:AssumeRole", "sts:TagSession"}) {
		t.Errorf("Pod Identity actions = %v, want sts:AssumeRole and sts:TagSession", a)
	}
	eq = s.Condition["StringEquals"]
	for tag, want := range map[string]string{"kubernetes-namespace": "NAMESPACE", "kubernetes-service-account": "SERVICE_ACCOUNT"} {
		if v := eq["aws:RequestTag/"+tag]; len(v) != 1 || v[0] != want {
			t.Errorf("Pod Identity condition on %s = %v, want %s", tag, v, want)
		}
	}
}
