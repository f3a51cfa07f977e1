package commands

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// ngCmd builds the expected Command of an /eks node-group mutation: ParseEKS mirrors the
// region, cluster and node group into the EKS target, so the tests do too.
func ngCmd(kind Kind, opKind aks.OpKind, region, cluster, ng string, spec *aks.NodegroupSpec, f func(*Command)) Command {
	c := Command{Kind: kind, Region: region, Cluster: cluster, Nodegroup: ng,
		Op: &aks.Operation{Kind: opKind, Target: aks.Target{Provider: aks.ProviderEKS, Region: region, Cluster: cluster, Pool: ng}, Nodegroup: spec}}
	if f != nil {
		f(&c)
	}
	return c
}

const testRole = "arn:aws:iam::111122223333:role/eks-nodes"

var eksAcceptCases = []struct {
	name string
	in   string
	want Command
}{
	// help
	{"empty is the overview", "", Command{Kind: KindHelp}},
	{"help", "help", Command{Kind: KindHelp}},
	{"leading /eks", "/eks help", Command{Kind: KindHelp}},
	{"help nodegroup", "help nodegroup", Command{Kind: KindHelp, Topic: "nodegroup"}},
	{"help of a subcommand, eksctl's ng", "help NG Scale", Command{Kind: KindHelp, Topic: "nodegroup scale"}},
	{"help of an AWS CLI alias", "help describe-cluster", Command{Kind: KindHelp, Topic: "describe"}},
	{"help of an eksctl alias", "help get nodegroup", Command{Kind: KindHelp, Topic: "nodegroup describe"}},
	{"--help after a command", "nodegroup scale web-prod ng-web --nodez 3 --help", Command{Kind: KindHelp, Topic: "nodegroup scale"}},
	{"nodegroup -h", "nodegroup -h", Command{Kind: KindHelp, Topic: "nodegroup"}},

	// list, describe
	{"list", "list", Command{Kind: KindEKSList}},
	{"list --region", "list --region eu-west-1", Command{Kind: KindEKSList, Region: "eu-west-1"}},
	{"list region in capitals", "list -r EU-CENTRAL-1", Command{Kind: KindEKSList, Region: "eu-central-1"}},
	{"list GovCloud region", "list --region us-gov-west-1", Command{Kind: KindEKSList, Region: "us-gov-west-1"}},
	{"list-clusters", "list-clusters --region=ap-southeast-2", Command{Kind: KindEKSList, Region: "ap-southeast-2"}},
	{"eksctl get clusters", "get clusters", Command{Kind: KindEKSList}},
	{"eksctl get cluster with a region", "get cluster --region eu-west-1", Command{Kind: KindEKSList, Region: "eu-west-1"}},
	{"describe", "describe web-prod", Command{Kind: KindEKSDescribe, Cluster: "web-prod"}},
	{"describe with region", "describe web-prod --region eu-west-1", Command{Kind: KindEKSDescribe, Cluster: "web-prod", Region: "eu-west-1"}},
	{"describe-cluster --name", "describe-cluster --name web-prod", Command{Kind: KindEKSDescribe, Cluster: "web-prod"}},
	{"eksctl get cluster --name", "get cluster --name Web_Prod2", Command{Kind: KindEKSDescribe, Cluster: "Web_Prod2"}},
	{"eksctl get cluster NAME", "get cluster web-prod -r eu-west-1", Command{Kind: KindEKSDescribe, Cluster: "web-prod", Region: "eu-west-1"}},
	{"100 character cluster", "describe " + strings.Repeat("c", 100), Command{Kind: KindEKSDescribe, Cluster: strings.Repeat("c", 100)}},
	{"cluster ending in a dash", "describe web-", Command{Kind: KindEKSDescribe, Cluster: "web-"}},

	// nodegroup list, describe
	{"nodegroup list", "nodegroup list web-prod", Command{Kind: KindEKSNodegroupList, Cluster: "web-prod"}},
	{"ng list", "ng list web-prod", Command{Kind: KindEKSNodegroupList, Cluster: "web-prod"}},
	{"list-nodegroups", "list-nodegroups --cluster-name web-prod --region eu-west-1", Command{Kind: KindEKSNodegroupList, Cluster: "web-prod", Region: "eu-west-1"}},
	{"eksctl get nodegroup --cluster", "get nodegroup --cluster web-prod", Command{Kind: KindEKSNodegroupList, Cluster: "web-prod"}},
	{"eksctl get ng --cluster=", "get ng --cluster=web-prod", Command{Kind: KindEKSNodegroupList, Cluster: "web-prod"}},
	{"nodegroup describe", "nodegroup describe web-prod ng-web", Command{Kind: KindEKSNodegroupDescribe, Cluster: "web-prod", Nodegroup: "ng-web"}},
	{"describe-nodegroup", "describe-nodegroup --cluster-name web-prod --nodegroup-name ng-web", Command{Kind: KindEKSNodegroupDescribe, Cluster: "web-prod", Nodegroup: "ng-web"}},
	{"eksctl get nodegroup --name", "get nodegroup --cluster web-prod --name ng-web", Command{Kind: KindEKSNodegroupDescribe, Cluster: "web-prod", Nodegroup: "ng-web"}},
	{"eksctl get nodegroup NAME", "get nodegroups ng-web --cluster web-prod", Command{Kind: KindEKSNodegroupDescribe, Cluster: "web-prod", Nodegroup: "ng-web"}},
	{"63 character node group", "nodegroup describe c " + strings.Repeat("n", 63), Command{Kind: KindEKSNodegroupDescribe, Cluster: "c", Nodegroup: strings.Repeat("n", 63)}},

	// nodegroup scale
	{"scale desired", "nodegroup scale web-prod ng-web --desired-size 5",
		ngCmd(KindEKSNodegroupScale, aks.OpNodegroupScale, "", "web-prod", "ng-web", &aks.NodegroupSpec{DesiredSize: intp(5)}, nil)},
	{"scale all three", "nodegroup scale web-prod ng-web --desired-size 5 --min-size 1 --max-size 10 --region eu-west-1",
		ngCmd(KindEKSNodegroupScale, aks.OpNodegroupScale, "eu-west-1", "web-prod", "ng-web", &aks.NodegroupSpec{DesiredSize: intp(5), MinSize: intp(1), MaxSize: intp(10)}, nil)},
	{"scale limits only", "nodegroup scale web-prod ng-web --min-size 2 --max-size 10",
		ngCmd(KindEKSNodegroupScale, aks.OpNodegroupScale, "", "web-prod", "ng-web", &aks.NodegroupSpec{MinSize: intp(2), MaxSize: intp(10)}, nil)},
	{"scale to zero", "nodegroup scale web-prod ng-web --desired-size 0 --min-size 0",
		ngCmd(KindEKSNodegroupScale, aks.OpNodegroupScale, "", "web-prod", "ng-web", &aks.NodegroupSpec{DesiredSize: intp(0), MinSize: intp(0)}, nil)},
	{"scale desired equal to the limits", "nodegroup scale c n --desired-size 3 --min-size 3 --max-size 3",
		ngCmd(KindEKSNodegroupScale, aks.OpNodegroupScale, "", "c", "n", &aks.NodegroupSpec{DesiredSize: intp(3), MinSize: intp(3), MaxSize: intp(3)}, nil)},
	{"AWS CLI update-nodegroup-config", "update-nodegroup-config --cluster-name web-prod --nodegroup-name ng-web --scaling-config minSize=1,maxSize=10,desiredSize=5",
		ngCmd(KindEKSNodegroupScale, aks.OpNodegroupScale, "", "web-prod", "ng-web", &aks.NodegroupSpec{DesiredSize: intp(5), MinSize: intp(1), MaxSize: intp(10)}, nil)},
	{"scaling config with spaces and any case", "nodegroup scale c n --scaling-config minsize=1, DesiredSize=2",
		ngCmd(KindEKSNodegroupScale, aks.OpNodegroupScale, "", "c", "n", &aks.NodegroupSpec{DesiredSize: intp(2), MinSize: intp(1)}, nil)},
	{"eksctl scale nodegroup", "scale nodegroup --cluster web-prod --name ng-web --nodes 3 --nodes-min 1 --nodes-max 4",
		ngCmd(KindEKSNodegroupScale, aks.OpNodegroupScale, "", "web-prod", "ng-web", &aks.NodegroupSpec{DesiredSize: intp(3), MinSize: intp(1), MaxSize: intp(4)}, nil)},
	{"eksctl scale ng NAME", "scale ng ng-web --cluster=web-prod --nodes=2",
		ngCmd(KindEKSNodegroupScale, aks.OpNodegroupScale, "", "web-prod", "ng-web", &aks.NodegroupSpec{DesiredSize: intp(2)}, nil)},
	{"scale dry run", "nodegroup scale c n --desired-size 4 --dry-run",
		ngCmd(KindEKSNodegroupScale, aks.OpNodegroupScale, "", "c", "n", &aks.NodegroupSpec{DesiredSize: intp(4)}, func(c *Command) { c.DryRun = true })},
	{"scale the largest size", "nodegroup scale c n --max-size 10000",
		ngCmd(KindEKSNodegroupScale, aks.OpNodegroupScale, "", "c", "n", &aks.NodegroupSpec{MaxSize: intp(10000)}, nil)},

	// nodegroup create
	{"create minimal", "nodegroup create web-prod ng-batch",
		ngCmd(KindEKSNodegroupCreate, aks.OpNodegroupCreate, "", "web-prod", "ng-batch", &aks.NodegroupSpec{}, nil)},
	{"create full", "nodegroup create web-prod ng-gpu --node-role " + testRole + " --subnets subnet-0a1b2c3d subnet-0a1b2c3d4e5f60718 " +
		"--instance-types g5.xlarge g5.2xlarge --desired-size 2 --min-size 0 --max-size 4 --capacity-type SPOT --ami-type AL2023_x86_64_NVIDIA " +
		"--kubernetes-version 1.31 --labels team=ml example.com/gpu=true --taints gpu=true:NoSchedule --region eu-west-1 --dry-run",
		ngCmd(KindEKSNodegroupCreate, aks.OpNodegroupCreate, "eu-west-1", "web-prod", "ng-gpu", &aks.NodegroupSpec{
			NodeRole: testRole, Subnets: []string{"subnet-0a1b2c3d", "subnet-0a1b2c3d4e5f60718"}, InstanceTypes: []string{"g5.xlarge", "g5.2xlarge"},
			DesiredSize: intp(2), MinSize: intp(0), MaxSize: intp(4), CapacityType: "SPOT", AMIType: "AL2023_x86_64_NVIDIA",
		}, func(c *Command) {
			c.DryRun = true
			c.Op.KubernetesVersion = "1.31"
			c.Op.Labels = map[string]string{"team": "ml", "example.com/gpu": "true"}
			c.Op.Taints = []string{"gpu=true:NoSchedule"}
		})},
	{"AWS CLI create-nodegroup, comma lists, loose spellings", "create-nodegroup --cluster-name web-prod --nodegroup-name ng-arm " +
		"--subnets subnet-0a1b2c3d,subnet-1a1b2c3d --instance-types M7G.large --capacity-type on-demand --ami-type al2023_arm_64_standard " +
		"--labels a=1,b=2 --taints dedicated=arm:NO_SCHEDULE,spot:PREFER_NO_SCHEDULE --node-role " + testRole,
		ngCmd(KindEKSNodegroupCreate, aks.OpNodegroupCreate, "", "web-prod", "ng-arm", &aks.NodegroupSpec{
			NodeRole: testRole, Subnets: []string{"subnet-0a1b2c3d", "subnet-1a1b2c3d"}, InstanceTypes: []string{"m7g.large"},
			CapacityType: "ON_DEMAND", AMIType: "AL2023_ARM_64_STANDARD",
		}, func(c *Command) {
			c.Op.Labels = map[string]string{"a": "1", "b": "2"}
			c.Op.Taints = []string{"dedicated=arm:NoSchedule", "spot:PreferNoSchedule"}
		})},
	{"eksctl create nodegroup", "create nodegroup --cluster web-prod --name ng-1 --node-type m5.large --nodes 3 --nodes-min 1 --nodes-max 5 --node-labels env=dev --version 1.30",
		ngCmd(KindEKSNodegroupCreate, aks.OpNodegroupCreate, "", "web-prod", "ng-1", &aks.NodegroupSpec{
			InstanceTypes: []string{"m5.large"}, DesiredSize: intp(3), MinSize: intp(1), MaxSize: intp(5),
		}, func(c *Command) {
			c.Op.KubernetesVersion = "1.30"
			c.Op.Labels = map[string]string{"env": "dev"}
		})},
	{"create sizes in the shorthand", "nodegroup create c n --scaling-config desiredSize=1,minSize=1,maxSize=1",
		ngCmd(KindEKSNodegroupCreate, aks.OpNodegroupCreate, "", "c", "n", &aks.NodegroupSpec{DesiredSize: intp(1), MinSize: intp(1), MaxSize: intp(1)}, nil)},
	{"create with an AMI release", "nodegroup create c n --kubernetes-version 1.31 --release-version 1.31.7-20250620",
		ngCmd(KindEKSNodegroupCreate, aks.OpNodegroupCreate, "", "c", "n", &aks.NodegroupSpec{ReleaseVersion: "1.31.7-20250620"}, func(c *Command) { c.Op.KubernetesVersion = "1.31" })},
	{"create with a GovCloud role", "nodegroup create c n --node-role arn:aws-us-gov:iam::111122223333:role/path/to/nodes",
		ngCmd(KindEKSNodegroupCreate, aks.OpNodegroupCreate, "", "c", "n", &aks.NodegroupSpec{NodeRole: "arn:aws-us-gov:iam::111122223333:role/path/to/nodes"}, nil)},

	// nodegroup upgrade
	{"upgrade to the control plane's", "nodegroup upgrade web-prod ng-web",
		ngCmd(KindEKSNodegroupUpgrade, aks.OpNodegroupUpgrade, "", "web-prod", "ng-web", &aks.NodegroupSpec{}, nil)},
	{"upgrade to a version", "nodegroup upgrade web-prod ng-web --kubernetes-version 1.31",
		ngCmd(KindEKSNodegroupUpgrade, aks.OpNodegroupUpgrade, "", "web-prod", "ng-web", &aks.NodegroupSpec{}, func(c *Command) { c.Op.KubernetesVersion = "1.31" })},
	{"AWS CLI update-nodegroup-version", "update-nodegroup-version --cluster-name web-prod --nodegroup-name ng-web --release-version 1.31.7-20250620 --force",
		ngCmd(KindEKSNodegroupUpgrade, aks.OpNodegroupUpgrade, "", "web-prod", "ng-web", &aks.NodegroupSpec{ReleaseVersion: "1.31.7-20250620", Force: true}, nil)},
	{"Bottlerocket release", "nodegroup upgrade c n --release-version 1.20.3-5d9ac849",
		ngCmd(KindEKSNodegroupUpgrade, aks.OpNodegroupUpgrade, "", "c", "n", &aks.NodegroupSpec{ReleaseVersion: "1.20.3-5d9ac849"}, nil)},
	{"eksctl upgrade nodegroup", "upgrade nodegroup --cluster web-prod --name ng-web -k 1.32 --force-upgrade -r us-east-1",
		ngCmd(KindEKSNodegroupUpgrade, aks.OpNodegroupUpgrade, "us-east-1", "web-prod", "ng-web", &aks.NodegroupSpec{Force: true}, func(c *Command) { c.Op.KubernetesVersion = "1.32" })},

	// nodegroup delete
	{"delete", "nodegroup delete web-prod ng-batch",
		ngCmd(KindEKSNodegroupDelete, aks.OpNodegroupDelete, "", "web-prod", "ng-batch", nil, nil)},
	{"AWS CLI delete-nodegroup", "delete-nodegroup --cluster-name web-prod --nodegroup-name ng-batch --region eu-west-1 --dry-run",
		ngCmd(KindEKSNodegroupDelete, aks.OpNodegroupDelete, "eu-west-1", "web-prod", "ng-batch", nil, func(c *Command) { c.DryRun = true })},
	{"eksctl delete nodegroup", "delete nodegroup --cluster web-prod --name ng-batch",
		ngCmd(KindEKSNodegroupDelete, aks.OpNodegroupDelete, "", "web-prod", "ng-batch", nil, nil)},

	// shared with /aks
	{"jobs", "jobs", Command{Kind: KindJobs}},
	{"jobs --all", "jobs --all", Command{Kind: KindJobs, All: true}},
	{"job", "job 0042", Command{Kind: KindJob, JobID: "42"}},
	{"cancel", "cancel 7", Command{Kind: KindCancel, JobID: "7"}},
	{"approve", "approve 7", Command{Kind: KindApprove, JobID: "7"}},
	{"deny with a reason", "deny 7 not during the freeze", Command{Kind: KindDeny, JobID: "7", Reason: "not during the freeze"}},
	{"pending", "pending", Command{Kind: KindPending}},
	{"whoami", "whoami", Command{Kind: KindWhoami}},
	{"policy", "policy", Command{Kind: KindPolicy}},
	{"policy of a cluster", "policy web-prod --region eu-west-1", Command{Kind: KindPolicy, Cluster: "web-prod", Region: "eu-west-1"}},
	{"audit", "audit", Command{Kind: KindAudit, Since: 24 * time.Hour}},
	{"audit of a cluster", "audit --cluster-name web-prod --since 7d", Command{Kind: KindAudit, Cluster: "web-prod", Since: 7 * 24 * time.Hour}},
}

func TestParseEKSAccepts(t *testing.T) {
	for _, tc := range eksAcceptCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEKS(tc.in)
			if err != nil {
				t.Fatalf("ParseEKS(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseEKS(%q)\n got %#v\nwant %#v", tc.in, describeEKS(got), describeEKS(tc.want))
			}
			again, err := ParseEKS(got.String())
			if err != nil {
				t.Fatalf("re-parse of %q: %v", got.String(), err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("re-parse of %q\n got %#v\nwant %#v", got.String(), describeEKS(again), describeEKS(got))
			}
		})
	}
}

// describeEKS shows a Command with its Operation and node-group spec spelled out.
func describeEKS(c Command) any {
	type shown struct {
		C  Command
		Op aks.Operation
		NG aks.NodegroupSpec
	}
	s := shown{C: c}
	if c.Op != nil {
		s.Op, s.C.Op = *c.Op, nil
		if c.Op.Nodegroup != nil {
			s.NG, s.Op.Nodegroup = *c.Op.Nodegroup, nil
		}
	}
	return s
}

var eksRefuseCases = []struct {
	name  string
	in    string
	usage string   // expected in Usage
	want  []string // expected in Message
}{
	// commands
	{"unknown command", "frobnicate", "/eks COMMAND", []string{"unknown command frobnicate"}},
	{"typo of a top-level command", "lsit", "/eks COMMAND", []string{"did you mean list?"}},
	{"typo of a node-group verb", "sacle web-prod ng-web", "/eks COMMAND", []string{"did you mean nodegroup scale?"}},
	{"node-group verb at top level", "scale web-prod ng-web --nodes 3", "/eks COMMAND", []string{"unknown command scale", "did you mean nodegroup scale?"}},
	{"/aks show", "show web-prod", "/eks COMMAND", []string{"unknown command show", "did you mean describe?"}},
	{"/aks abort", "abort web-prod", "/eks COMMAND", []string{"cannot abort", "/eks cancel ID"}},
	{"/aks nodepool", "nodepool scale a b", "/eks COMMAND", []string{"unknown command nodepool", "did you mean nodegroup?"}},
	{"nodegroup alone", "nodegroup", "/eks nodegroup scale CLUSTER NODEGROUP", []string{"missing nodegroup subcommand"}},
	{"nodegroup then a flag", "ng --region eu-west-1", "/eks nodegroup list", []string{"missing nodegroup subcommand before --region"}},
	{"unknown nodegroup subcommand", "nodegroup sclae a b", "/eks nodegroup scale", []string{"unknown nodegroup subcommand sclae", "did you mean nodegroup scale?"}},
	{"flag before command", "--region eu-west-1", "/eks COMMAND", []string{"missing command before --region"}},
	{"help of an unknown topic", "help nodegroup sacle", "/eks help", []string{"no help for", "did you mean nodegroup scale?"}},
	{"unclosed quote", `describe "web-prod`, "/eks COMMAND", []string{"quote is not closed"}},
	{"too long", "list " + strings.Repeat("x", maxInput), "/eks COMMAND", []string{"too long"}},

	// names and regions
	{"bad cluster name", "describe -web", "/eks describe", []string{"unknown flag -web"}},
	{"cluster name with a dot", "describe web.prod", "/eks describe", []string{`invalid cluster name "web.prod"`, "1-100"}},
	{"cluster name too long", "describe " + strings.Repeat("c", 101), "/eks describe", []string{"invalid cluster name"}},
	{"node group name too long", "nodegroup delete c " + strings.Repeat("n", 64), "/eks nodegroup delete", []string{"invalid node group name", "1-63"}},
	{"node group name with a slash", "nodegroup delete c a/b", "/eks nodegroup delete", []string{`invalid node group name "a/b"`}},
	{"bad region", "list --region westeurope", "/eks list", []string{`invalid region "westeurope"`, "eu-west-1"}},
	{"region without a number", "describe c --region eu-west", "/eks describe", []string{"invalid region"}},
	{"missing cluster", "describe", "/eks describe CLUSTER", []string{"missing the cluster name (CLUSTER)"}},
	{"missing node group", "nodegroup scale c --nodes 3", "/eks nodegroup scale", []string{"missing the node group name (NODEGROUP)"}},
	{"get nodegroup without a cluster", "get nodegroup", "/eks nodegroup describe", []string{"missing the cluster name"}},
	{"cluster given twice", "describe-cluster --name a --cluster b", "/eks describe", []string{"cluster name (CLUSTER) is given twice (--name and --cluster)"}},
	{"node group given twice", "nodegroup delete c a --nodegroup-name b", "/eks nodegroup delete", []string{"unexpected argument a", "already given by --nodegroup-name"}},
	{"extra argument", "nodegroup list c n", "/eks nodegroup list", []string{"unexpected argument n"}},

	// flags
	{"unknown flag with suggestion", "nodegroup scale c n --desired-sise 3", "/eks nodegroup scale", []string{"unknown flag --desired-sise", "did you mean --desired-size?"}},
	{"an /aks flag", "nodegroup scale c n --node-count 3", "/eks nodegroup scale", []string{"unknown flag --node-count", "--desired-size"}},
	{"a resource group", "describe c -g rg", "/eks describe", []string{"no resource group", "--region"}},
	{"flag of another command", "nodegroup scale c n --nodes 3 --labels a=b", "/eks nodegroup scale", []string{"--labels is not a flag of /eks nodegroup scale", "when a node group is created"}},
	{"version on scale", "nodegroup scale c n --kubernetes-version 1.31", "/eks nodegroup scale", []string{"not a flag of /eks nodegroup scale", "nodegroup upgrade"}},
	{"region twice by alias", "list -r eu-west-1 --region eu-west-2", "/eks list", []string{"--region is given twice"}},
	{"size twice by alias", "nodegroup scale c n --nodes 3 --desired-size 4", "/eks nodegroup scale", []string{"--desired-size is given twice", "--nodes and --desired-size"}},
	{"dry run on a read", "describe c --dry-run", "/eks describe", []string{"--dry-run is not a flag of /eks describe"}},
	{"subscription", "list --subscription prod", "/eks list", []string{"unknown flag --subscription"}},

	// sizes
	{"scale without a size", "nodegroup scale c n", "/eks nodegroup scale", []string{"missing the new size"}},
	{"negative size", "nodegroup scale c n --desired-size -1", "/eks nodegroup scale", []string{"--desired-size -1 is out of range 0-10000"}},
	{"huge size", "nodegroup scale c n --max-size 99999999999999999999", "/eks nodegroup scale", []string{"out of range"}},
	{"size not a number", "nodegroup scale c n --nodes three", "/eks nodegroup scale", []string{`--nodes "three" is not a whole number`}},
	{"max zero", "nodegroup scale c n --max-size 0", "/eks nodegroup scale", []string{"node group n: the max size must be at least 1"}},
	{"min above max", "nodegroup scale c n --min-size 5 --max-size 3", "/eks nodegroup scale", []string{"node group n: min size 5 is above max size 3"}},
	{"desired below min", "nodegroup scale c n --desired-size 1 --min-size 2", "/eks nodegroup scale", []string{"node group n: 1 nodes is below the min size 2"}},
	{"desired above max", "nodegroup scale c n --nodes 11 --nodes-max 10", "/eks nodegroup scale", []string{"node group n: 11 nodes is above the max size 10"}},
	{"scaling config and size flags", "nodegroup scale c n --scaling-config desiredSize=3 --max-size 4", "/eks nodegroup scale", []string{"either with --scaling-config or with --max-size"}},
	{"scaling config unknown key", "nodegroup scale c n --scaling-config desired=3", "/eks nodegroup scale", []string{`invalid --scaling-config item "desired=3"`}},
	{"scaling config key twice", "nodegroup scale c n --scaling-config maxSize=3,maxSize=4", "/eks nodegroup scale", []string{"maxSize is given twice"}},
	{"scaling config only commas", "nodegroup scale c n --scaling-config ,", "/eks nodegroup scale", []string{"--scaling-config needs a value"}},
	{"scaling config bad number", "nodegroup scale c n --scaling-config minSize=x", "/eks nodegroup scale", []string{`minSize "x" is not a whole number`}},
	{"scaling config inverted", "update-nodegroup-config --cluster-name c --nodegroup-name n --scaling-config minSize=4,maxSize=2", "/eks nodegroup scale", []string{"min size 4 is above max size 2"}},
	{"create with one size", "nodegroup create c n --desired-size 3", "/eks nodegroup create", []string{"together, or none of them"}},

	// create
	{"bad role", "nodegroup create c n --node-role eks-nodes", "/eks nodegroup create", []string{`invalid node role "eks-nodes"`, "arn:aws:iam::"}},
	{"user instead of role", "nodegroup create c n --node-role arn:aws:iam::111122223333:user/bob", "/eks nodegroup create", []string{"invalid node role"}},
	{"bad subnet", "nodegroup create c n --subnets subnet-xyz", "/eks nodegroup create", []string{`invalid subnet ID "subnet-xyz"`}},
	{"subnet twice", "nodegroup create c n --subnets subnet-0a1b2c3d,subnet-0a1b2c3d", "/eks nodegroup create", []string{"subnet ID subnet-0a1b2c3d is given twice"}},
	{"bad instance type", "nodegroup create c n --instance-types Standard_D4s_v5", "/eks nodegroup create", []string{`invalid instance type "standard_d4s_v5"`, "m6i.large"}},
	{"capacity block", "nodegroup create c n --capacity-type capacity-block", "/eks nodegroup create", []string{"CAPACITY_BLOCK needs a launch template", "ON_DEMAND or SPOT"}},
	{"release of another version", "nodegroup create c n --kubernetes-version 1.31 --release-version 1.30.9-20250620", "/eks nodegroup create", []string{"AMI release 1.30.9-20250620 is not a release of Kubernetes 1.31"}},
	{"capacity type typo", "nodegroup create c n --capacity-type SPOTT", "/eks nodegroup create", []string{"did you mean SPOT?"}},
	{"AMI type typo", "nodegroup create c n --ami-type AL2023_ARM64_STANDARD", "/eks nodegroup create", []string{"did you mean AL2023_ARM_64_STANDARD?"}},
	{"unknown AMI type", "nodegroup create c n --ami-type UBUNTU", "/eks nodegroup create", []string{`invalid --ami-type "UBUNTU"`, "AL2023_x86_64_STANDARD"}},
	{"custom AMI type", "nodegroup create c n --ami-type CUSTOM", "/eks nodegroup create", []string{"invalid --ami-type"}},
	{"bad label", "nodegroup create c n --labels team", "/eks nodegroup create", []string{`invalid label "team"`}},
	{"empty labels", "nodegroup create c n --labels ,", "/eks nodegroup create", []string{"--labels needs a value"}},
	{"bad taint effect", "nodegroup create c n --taints a=b:Never", "/eks nodegroup create", []string{"invalid taint effect", "NoSchedule"}},
	{"taint without effect", "nodegroup create c n --taints a=b", "/eks nodegroup create", []string{`invalid taint "a=b"`, "key:Effect"}},
	{"taint twice", "nodegroup create c n --taints a=b:NoSchedule a=c:NO_SCHEDULE", "/eks nodegroup create", []string{"taint a:NoSchedule is given twice"}},
	{"patch version", "nodegroup create c n --kubernetes-version 1.31.2", "/eks nodegroup create", []string{"major.minor"}},

	// upgrade
	{"version and release", "nodegroup upgrade c n --kubernetes-version 1.31 --release-version 1.31.7-20250620", "/eks nodegroup upgrade", []string{"give only one of --kubernetes-version and --release-version"}},
	{"bad release", "nodegroup upgrade c n --release-version latest", "/eks nodegroup upgrade", []string{`invalid AMI release version "latest"`}},
	{"force with a value", "nodegroup upgrade c n --force=yes", "/eks nodegroup upgrade", []string{"--force takes no value"}},
	{"size on upgrade", "nodegroup upgrade c n --desired-size 3", "/eks nodegroup upgrade", []string{"not a flag of /eks nodegroup upgrade", "nodegroup scale"}},

	// shared
	{"bad job ID", "job x", "/eks job ID", []string{`invalid job ID "x"`}},
	{"deny without an ID", "deny", "/eks deny", []string{"missing the job ID"}},
	{"audit too far back", "audit --since 100d", "/eks audit", []string{"too far back"}},
	{"policy with a resource group", "policy c -g rg", "/eks policy", []string{"no resource group"}},
}

func TestParseEKSRefuses(t *testing.T) {
	for _, tc := range eksRefuseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEKS(tc.in)
			ue := checkRefusal(t, tc.in, err, tc.want, tc.usage)
			if strings.Contains(ue.Usage, "/aks") {
				t.Errorf("an /eks usage speaks of /aks: %q", ue.Usage)
			}
			if !reflect.DeepEqual(got, Command{}) {
				t.Errorf("refused parse returned %#v, want the zero Command", describeEKS(got))
			}
		})
	}
}

// TestEveryEKSKindParses: every kind /eks has is reachable, mutating exactly when it carries
// an operation, whose target is the command's cluster and node group on EKS.
func TestEveryEKSKindParses(t *testing.T) {
	mutating := map[Kind]aks.OpKind{
		KindEKSNodegroupCreate: aks.OpNodegroupCreate, KindEKSNodegroupScale: aks.OpNodegroupScale,
		KindEKSNodegroupUpgrade: aks.OpNodegroupUpgrade, KindEKSNodegroupDelete: aks.OpNodegroupDelete,
	}
	seen := map[Kind]bool{}
	for _, tc := range eksAcceptCases {
		c, err := ParseEKS(tc.in)
		if err != nil {
			t.Fatalf("ParseEKS(%q): %v", tc.in, err)
		}
		seen[c.Kind] = true
		want, isMutating := mutating[c.Kind]
		if c.Mutating() != isMutating {
			t.Errorf("%s: Mutating() = %v, want %v", c.Kind, c.Mutating(), isMutating)
		}
		if !isMutating {
			continue
		}
		target := aks.Target{Provider: aks.ProviderEKS, Region: c.Region, Cluster: c.Cluster, Pool: c.Nodegroup}
		if c.Op == nil || c.Op.Kind != want || c.Op.Target != target {
			t.Errorf("%q: Op = %+v, want kind %s on %+v", tc.in, c.Op, want, target)
		}
	}
	for _, s := range eksSpecList {
		if !seen[s.kind] {
			t.Errorf("no accepted test case produces kind %q", s.kind)
		}
	}
}

func TestEKSStringIsCanonical(t *testing.T) {
	cases := map[string]string{
		"get nodegroup --cluster web-prod --name ng-web -r EU-WEST-1":                                                                           "nodegroup describe web-prod ng-web --region eu-west-1",
		"update-nodegroup-config --cluster-name c --nodegroup-name n --scaling-config maxSize=4,minSize=1,desiredSize=2":                        "nodegroup scale c n --desired-size 2 --min-size 1 --max-size 4",
		"scale ng --cluster c --name n --nodes 3 --dry-run":                                                                                     "nodegroup scale c n --dry-run --desired-size 3",
		"create-nodegroup --cluster-name c --nodegroup-name n --subnets subnet-0a1b2c3d,subnet-0a1b2c3e --labels b=2,a=1 --taints x:no_execute": "nodegroup create c n --labels a=1 b=2 --taints x:NoExecute --subnets subnet-0a1b2c3d subnet-0a1b2c3e",
		"upgrade nodegroup --cluster c --name n --force-upgrade":                                                                                "nodegroup upgrade c n --force",
		"list-clusters":           "list",
		"help describe-nodegroup": "help nodegroup describe",
		"audit -n c --since 168h": "audit c --since 7d",
	}
	for in, want := range cases {
		c, err := ParseEKS(in)
		if err != nil {
			t.Fatalf("ParseEKS(%q): %v", in, err)
		}
		if got := c.String(); got != want {
			t.Errorf("ParseEKS(%q).String() = %q, want %q", in, got, want)
		}
	}
}

// The AKS grammar does not learn /eks words, and /eks does not learn /aks ones.
func TestGrammarsStayApart(t *testing.T) {
	for _, in := range []string{"nodegroup list web-prod", "describe web-prod", "list --region eu-west-1", "get nodegroup --cluster c"} {
		if c, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error: it is /eks", in, c)
		}
	}
	for _, in := range []string{"nodepool list demo", "show demo", "list -g rg", "schedule list", "cost demo", "get-versions"} {
		if c, err := ParseEKS(in); err == nil {
			t.Errorf("ParseEKS(%q) = %+v, want an error: it is /aks", in, c)
		}
	}
}

// The /eks fuzz target checks ParseEKS's output against EKS's rules written out again here, so
// that a loosened rule in eksbuild.go is caught rather than trusted.
var (
	fuzzEKSClusterRe = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$`)
	fuzzNodegroupRe  = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,62}$`)
	fuzzRegionRe     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
	fuzzEKSVersionRe = regexp.MustCompile(`^1\.\d+$`)
	fuzzSubnetRe     = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
)

func FuzzParseEKS(f *testing.F) {
	for _, tc := range eksAcceptCases {
		f.Add(tc.in)
	}
	for _, tc := range eksRefuseCases {
		f.Add(tc.in)
	}
	for _, sp := range eksSpecList {
		for _, ex := range sp.examples {
			f.Add(ex)
		}
	}
	for _, s := range []string{`"`, "--", "-r=", "ng", "get", "get cluster", "get nodegroup --cluster c --name", "nodegroup scale c n --scaling-config",
		"nodegroup scale c n --scaling-config minSize=1,,maxSize=2", "nodegroup create c n --taints :NoSchedule", "nodegroup create c n --labels =",
		"nodegroup scale c n --desired-size 2147483648", "deny 1 \"", "help get cluster", "nodegroup create c n --subnets ,,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseEKS(text)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("ParseEKS(%q) error is %T, want *UsageError", text, err)
			}
			if ue.Message == "" || !strings.HasPrefix(ue.Usage, "/eks ") {
				t.Fatalf("ParseEKS(%q) error lacks a message or an /eks usage: %#v", text, ue)
			}
			if !reflect.DeepEqual(c, Command{}) {
				t.Fatalf("ParseEKS(%q) refused but returned %#v", text, c)
			}
			return
		}
		checkEKSCommand(t, text, c)
		again, err := ParseEKS(c.String())
		if err != nil {
			t.Fatalf("ParseEKS(%q) = %q, which does not parse: %v", text, c.String(), err)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("ParseEKS(%q) is not stable through %q:\n first %#v\nsecond %#v", text, c.String(), describeEKS(c), describeEKS(again))
		}
	})
}

// checkEKSCommand asserts the invariants of a command ParseEKS accepted.
func checkEKSCommand(t *testing.T, text string, c Command) {
	t.Helper()
	if _, ok := eksGrammar.byKind[c.Kind]; !ok {
		t.Fatalf("ParseEKS(%q): kind %q is not an /eks command", text, c.Kind)
	}
	if c.Kind == KindHelp {
		if _, err := HelpEKS(c.Topic); err != nil {
			t.Fatalf("ParseEKS(%q): topic %q has no help: %v", text, c.Topic, err)
		}
	}
	if c.ResourceGroup != "" || c.Location != "" || c.Subscription != "" || c.AllSubscriptions || c.Pool != "" || c.Schedule != nil {
		t.Fatalf("ParseEKS(%q): an /aks field is set: %#v", text, describeEKS(c))
	}
	if c.Region != "" && !fuzzRegionRe.MatchString(c.Region) {
		t.Fatalf("ParseEKS(%q): region %q", text, c.Region)
	}
	if c.Cluster != "" && !fuzzEKSClusterRe.MatchString(c.Cluster) {
		t.Fatalf("ParseEKS(%q): cluster %q", text, c.Cluster)
	}
	if c.Nodegroup != "" && !fuzzNodegroupRe.MatchString(c.Nodegroup) {
		t.Fatalf("ParseEKS(%q): node group %q", text, c.Nodegroup)
	}
	onNodegroup := strings.HasPrefix(string(c.Kind), "eks nodegroup ") && c.Kind != KindEKSNodegroupList
	if (c.Nodegroup != "") != onNodegroup {
		t.Fatalf("ParseEKS(%q): node group %q on %s", text, c.Nodegroup, c.Kind)
	}
	if c.Mutating() != (c.Op != nil) || (c.DryRun && !c.Mutating()) {
		t.Fatalf("ParseEKS(%q): Mutating() = %v with Op %v and dry run %v", text, c.Mutating(), c.Op, c.DryRun)
	}
	if c.Op == nil {
		return
	}
	op := c.Op
	if op.Kind.Provider() != aks.ProviderEKS || !op.Kind.Valid() {
		t.Fatalf("ParseEKS(%q): op kind %q", text, op.Kind)
	}
	if want := (aks.Target{Provider: aks.ProviderEKS, Region: c.Region, Cluster: c.Cluster, Pool: c.Nodegroup}); op.Target != want {
		t.Fatalf("ParseEKS(%q): target %+v, want %+v", text, op.Target, want)
	}
	if op.KubernetesVersion != "" && !fuzzEKSVersionRe.MatchString(op.KubernetesVersion) {
		t.Fatalf("ParseEKS(%q): version %q", text, op.KubernetesVersion)
	}
	for _, taint := range op.Taints {
		if !strings.HasSuffix(taint, ":NoSchedule") && !strings.HasSuffix(taint, ":PreferNoSchedule") && !strings.HasSuffix(taint, ":NoExecute") {
			t.Fatalf("ParseEKS(%q): taint %q", text, taint)
		}
	}
	ng := op.Nodegroup
	if (ng == nil) != (op.Kind == aks.OpNodegroupDelete) {
		t.Fatalf("ParseEKS(%q): node-group spec %v on %s", text, ng, op.Kind)
	}
	if ng == nil {
		return
	}
	for _, n := range []*int{ng.DesiredSize, ng.MinSize, ng.MaxSize} {
		if n != nil && (*n < 0 || *n > 10000) {
			t.Fatalf("ParseEKS(%q): size %d", text, *n)
		}
	}
	lo, want, hi := ng.MinSize, ng.DesiredSize, ng.MaxSize
	if (hi != nil && *hi < 1) || (lo != nil && hi != nil && *lo > *hi) || (want != nil && lo != nil && *want < *lo) || (want != nil && hi != nil && *want > *hi) {
		t.Fatalf("ParseEKS(%q): sizes %+v", text, describeEKS(c))
	}
	given := 0
	for _, n := range []*int{lo, want, hi} {
		if n != nil {
			given++
		}
	}
	switch op.Kind {
	case aks.OpNodegroupScale:
		if given == 0 {
			t.Fatalf("ParseEKS(%q): a scale without a size", text)
		}
	case aks.OpNodegroupCreate:
		if given != 0 && given != 3 {
			t.Fatalf("ParseEKS(%q): a create with %d of the 3 sizes", text, given)
		}
	case aks.OpNodegroupUpgrade:
		if given != 0 || (ng.ReleaseVersion != "" && op.KubernetesVersion != "") {
			t.Fatalf("ParseEKS(%q): upgrade %+v", text, describeEKS(c))
		}
	}
	if ng.ReleaseVersion != "" && op.KubernetesVersion != "" && !strings.HasPrefix(ng.ReleaseVersion, op.KubernetesVersion+".") {
		t.Fatalf("ParseEKS(%q): AMI release %s of another version than %s", text, ng.ReleaseVersion, op.KubernetesVersion)
	}
	for _, s := range ng.Subnets {
		if !fuzzSubnetRe.MatchString(s) {
			t.Fatalf("ParseEKS(%q): subnet %q", text, s)
		}
	}
	if ng.CapacityType != "" && ng.CapacityType != "ON_DEMAND" && ng.CapacityType != "SPOT" {
		t.Fatalf("ParseEKS(%q): capacity type %q", text, ng.CapacityType)
	}
	if ng.NodeRole != "" && !strings.HasPrefix(ng.NodeRole, "arn:aws") {
		t.Fatalf("ParseEKS(%q): node role %q", text, ng.NodeRole)
	}
}
