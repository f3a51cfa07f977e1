package chatops

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/commands"
)

// EKSReader is the read side of EKS for the read-only /eks commands; it answers in the text they show.
type EKSReader interface {
	ListClusters(ctx context.Context, regions []string) (string, error)
	DescribeCluster(ctx context.Context, region, cluster string) (string, error)
	ListNodegroups(ctx context.Context, region, cluster string) (string, error)
	DescribeNodegroup(ctx context.Context, region, cluster, nodegroup string) (string, error)
}

// EKS configures /eks; Service.EKS nil makes /eks answer that EKS is not configured (with a hint to the README).
type EKS struct {
	Reader  EKSReader
	Regions []string // configured regions; the first is the default region
	Account string   // AWS account ID when known, set on every EKS target
	// NodegroupDefaults returns per-cluster defaults for create (node role, subnets, instance types); nil = none.
	NodegroupDefaults func(region, cluster string) aks.NodegroupSpec
}

// eksCommand answers one /eks command, as Command does /aks ones: through the same engine, so
// approvals, jobs and threads are those of /aks.
func (s *Service) eksCommand(ctx context.Context, req Request) Reply {
	cmd, err := commands.ParseEKS(req.Text)
	if err != nil {
		return errorReply(err)
	}
	text, jobID, err := s.runEKS(ctx, req, cmd)
	if err != nil {
		s.log().Info("command refused", "user", req.User.ID, "channel", req.Channel, "slash", CommandEKS, "command", cmd.Kind, "err", err)
		return cloudErrorReply("EKS", err)
	}
	return Reply{Text: text, JobID: jobID}
}

func (s *Service) runEKS(ctx context.Context, req Request, cmd commands.Command) (text, jobID string, err error) {
	if cmd.Kind == commands.KindHelp {
		text, err = commands.HelpEKS(cmd.Topic)
		return text, "", err
	}
	if s.EKS == nil {
		return "", "", &aks.Error{Code: aks.EUnavailable, Message: "EKS is not configured on this bot",
			Hint: "see “EKS managed node groups” in the README for the aws section of the configuration; /aks works as before"}
	}
	now := s.now()
	if text, jobID, ok, err := s.jobCommand(ctx, req, cmd, CommandEKS, now); ok {
		return text, jobID, err
	}
	region, err := s.EKS.region(cmd.Region)
	if err != nil {
		return "", "", err
	}
	target := aks.Target{Provider: aks.ProviderEKS, Region: region, Account: s.EKS.Account, Cluster: cmd.Cluster}
	r := s.EKS.Reader
	switch cmd.Kind {
	case commands.KindEKSList:
		regions := s.EKS.Regions
		if cmd.Region != "" {
			regions = []string{region}
		}
		text, err := r.ListClusters(ctx, regions)
		return text, "", err
	case commands.KindEKSDescribe:
		text, err := r.DescribeCluster(ctx, region, cmd.Cluster)
		return text, "", err
	case commands.KindEKSNodegroupList:
		text, err := r.ListNodegroups(ctx, region, cmd.Cluster)
		return text, "", err
	case commands.KindEKSNodegroupDescribe:
		text, err := r.DescribeNodegroup(ctx, region, cmd.Cluster, cmd.Nodegroup)
		return text, "", err
	case commands.KindPolicy:
		return s.Policy.Describe(ctx, target), "", nil
	case commands.KindAudit:
		return s.audit(ctx, req.User, cmd, target, CommandEKS, now)
	}
	if cmd.Op == nil {
		return "", "", aks.Errorf(aks.EInternal, "command %q is not wired to anything", cmd.Kind)
	}
	op := *cmd.Op
	op.Target.Region, op.Target.Account = region, s.EKS.Account
	if op.Nodegroup != nil {
		ng := *op.Nodegroup // the command's spec stays as parsed
		op.Nodegroup = &ng
	}
	if op.Kind == aks.OpNodegroupCreate {
		if err := s.EKS.fillCreate(&op); err != nil {
			return "", "", err
		}
	}
	return s.submit(ctx, req, op, cmd.DryRun)
}

// region is the region a command acts in: the one it names, which must be configured, or the
// default. Nothing reaches AWS in a region the bot was not set up for.
func (e *EKS) region(named string) (string, error) {
	if len(e.Regions) == 0 {
		return "", &aks.Error{Code: aks.EUnavailable, Message: "no AWS region is configured for EKS",
			Hint: "set aws.regions in the configuration (see “EKS managed node groups” in the README)"}
	}
	if named == "" {
		return e.Regions[0], nil
	}
	if !slices.Contains(e.Regions, named) {
		return "", &aks.Error{Code: aks.EInvalid, Message: fmt.Sprintf("this bot does not work in region %s", named),
			Hint: "its regions are " + strings.Join(e.Regions, ", ")}
	}
	return named, nil
}

// fillCreate gives a node-group create what the command left out from the cluster's configured
// defaults, then requires what EKS cannot do without: a node role and subnets.
func (e *EKS) fillCreate(op *aks.Operation) error {
	if op.Nodegroup == nil {
		op.Nodegroup = &aks.NodegroupSpec{}
	}
	ng, t := op.Nodegroup, op.Target
	if e.NodegroupDefaults != nil {
		def := e.NodegroupDefaults(t.Region, t.Cluster)
		if ng.NodeRole == "" {
			ng.NodeRole = def.NodeRole
		}
		if len(ng.Subnets) == 0 {
			ng.Subnets = slices.Clone(def.Subnets)
		}
		if len(ng.InstanceTypes) == 0 {
			ng.InstanceTypes = slices.Clone(def.InstanceTypes)
		}
		if ng.CapacityType == "" {
			ng.CapacityType = def.CapacityType
		}
		if ng.AMIType == "" {
			ng.AMIType = def.AMIType
		}
	}
	where := fmt.Sprintf("cluster %s in %s", t.Cluster, t.Region)
	switch {
	case ng.NodeRole == "":
		return &aks.Error{Code: aks.EInvalid, Message: "a new node group needs a node IAM role, and none is configured for " + where,
			Hint: "give --node-role arn:aws:iam::ACCOUNT:role/NAME, or set the cluster's node role under aws.clusters in the configuration"}
	case len(ng.Subnets) == 0:
		return &aks.Error{Code: aks.EInvalid, Message: "a new node group needs subnets, and none are configured for " + where,
			Hint: "give --subnets subnet-..., or set the cluster's subnets under aws.clusters in the configuration"}
	}
	return nil
}

// eksHints turns the /aks hints of the job views into /eks ones: the job commands are the same
// under both, and whoever typed /eks should be told to type /eks.
var eksHints = strings.NewReplacer(
	"`/aks job", "`/eks job", // job ID, jobs --all
	"`/aks approve", "`/eks approve",
	"`/aks deny", "`/eks deny",
	"`/aks nodepool scale`", "`/eks nodegroup scale`",
)

// hints speaks of the slash command the answer is for.
func hints(text, slash string) string {
	if slash == CommandEKS {
		return eksHints.Replace(text)
	}
	return text
}
