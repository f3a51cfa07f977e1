package chatops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/commands"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/views"
)

// Engine is what the service needs from the job engine.
type Engine interface {
	Submit(ctx context.Context, req jobs.SubmitRequest) (aks.Job, error)
	// DryRun makes the job Submit would make, and its first event, storing and sending nothing.
	DryRun(ctx context.Context, req jobs.SubmitRequest) (aks.Job, aks.Event, error)
	Decide(ctx context.Context, jobID string, user aks.User, approve bool, reason string) (aks.Job, error)
	Cancel(ctx context.Context, jobID string, user aks.User) (aks.Job, error)
	Abort(ctx context.Context, t aks.Target, user aks.User) (aks.Job, error)
}

// PolicyView answers what people ask about the policy (internal/policy implements it).
type PolicyView interface {
	// WhoAmI says what the user may request and approve, and where.
	WhoAmI(ctx context.Context, user aks.User) (string, error)
	// Describe says what applies to a cluster: the rule, what needs approval, who approves, the
	// guardrails. An empty t.Cluster describes the defaults.
	Describe(ctx context.Context, t aks.Target) string
	// IsApprover reports whether the user may approve anything at all.
	IsApprover(ctx context.Context, user aks.User) (bool, error)
	// CanApprove returns nil when the user may approve the job.
	CanApprove(ctx context.Context, user aks.User, job aks.Job) error
}

// AuditTrail reads the audit log, oldest first: records since a time, for one cluster
// (aks.Target.ClusterKey) or all (""), at most limit of the newest.
type AuditTrail interface {
	Audit(ctx context.Context, since time.Time, clusterKey string, limit int) ([]aks.AuditRecord, error)
}

// Reader is the read side of Azure, for the read-only commands.
type Reader interface {
	ListClusters(ctx context.Context, rg string) ([]aks.Cluster, error)
	GetCluster(ctx context.Context, rg, name string) (aks.Cluster, error)
	GetVersions(ctx context.Context, location string) ([]aks.KubernetesVersion, error)
	GetUpgrades(ctx context.Context, rg, cluster string) (aks.Upgrades, error)
}

// JobReader reads stored jobs (jobs.Store satisfies it).
type JobReader interface {
	Job(ctx context.Context, id string) (aks.Job, error)
	Jobs(ctx context.Context, f jobs.Filter) ([]aks.Job, error)
	Events(ctx context.Context, jobID string) ([]aks.Event, error)
}

// Costs says what clusters cost now at list prices (internal/assess implements it).
type Costs interface {
	RunRate(ctx context.Context, cl aks.Cluster) aks.RunRate
}

// Defaults fill what a command leaves out.
type Defaults struct {
	ResourceGroup string
	Location      string
}

// Service implements Handler on the job engine, the job store, and the read sides of Azure
// (/aks) and EKS (/eks).
type Service struct {
	Engine Engine
	Jobs   JobReader
	Azure  Reader
	Policy PolicyView
	Audit  AuditTrail
	Costs  Costs // nil: `/aks cost` says prices are not configured
	// Schedules runs `/aks schedule`; nil says schedules are not enabled.
	Schedules ScheduleEngine
	Defaults  Defaults
	// Subscriptions are those commands may name with --subscription; the zero value knows none
	// (every command then acts in Azure's one subscription, and naming one is refused).
	Subscriptions aks.Subscriptions
	// AzureIn returns the read side of a subscription by ID; nil = Azure serves them all.
	AzureIn func(subscriptionID string) (Reader, error)
	// EKS serves /eks; nil answers that EKS is not configured.
	EKS    *EKS
	Logger *slog.Logger
	Now    func() time.Time // nil = time.Now
}

var _ Handler = (*Service)(nil)

// unfinished are the states `/aks jobs` shows without --all.
var unfinished = []aks.JobState{aks.StateAwaitingApproval, aks.StateQueued, aks.StateRunning}

// Command answers one slash command. Anything that goes wrong becomes a reply to the requester.
func (s *Service) Command(ctx context.Context, req Request) (reply Reply) {
	defer func() {
		if r := recover(); r != nil {
			s.log().Error("command handler panicked", "panic", r, "user", req.User.ID, "channel", req.Channel)
			reply = Reply{Error: true, Text: "Something went wrong inside the bot while handling that command; it has been logged."}
		}
	}()
	switch name, known := SlashCommand(req.Command); {
	case !known:
		s.log().Info("unknown slash command", "user", req.User.ID, "channel", req.Channel, "command", clip(req.Command))
		return UnknownCommand(req.Command)
	case name == CommandEKS:
		return s.eksCommand(ctx, req)
	}
	cmd, err := commands.Parse(req.Text)
	if err != nil {
		return errorReply(err)
	}
	if cmd.ResourceGroup == "" {
		cmd.ResourceGroup = s.Defaults.ResourceGroup
	}
	// An unknown subscription is refused here, before anything reads Azure.
	var sub aks.Subscription
	if cmd.Subscription != "" || len(s.Subscriptions.List) > 0 {
		if sub, err = s.Subscriptions.Resolve(cmd.Subscription); err != nil {
			s.log().Info("command refused", "user", req.User.ID, "channel", req.Channel, "command", cmd.Kind, "err", err)
			return errorReply(err)
		}
	}
	text, jobID, err := s.run(ctx, req, cmd, sub)
	if err != nil {
		s.log().Info("command refused", "user", req.User.ID, "channel", req.Channel, "command", cmd.Kind, "err", err)
		return errorReply(err)
	}
	return Reply{Text: text, JobID: jobID}
}

func (s *Service) run(ctx context.Context, req Request, cmd commands.Command, sub aks.Subscription) (text, jobID string, err error) {
	now := s.now()
	if cmd.Kind == "help" {
		text, err = commands.Help(cmd.Topic)
		return text, "", err
	}
	az, err := s.reader(sub)
	if err != nil {
		return "", "", err
	}
	// target is the cluster the command names, in its subscription.
	target := s.target(sub, aks.Target{ResourceGroup: cmd.ResourceGroup, Cluster: cmd.Cluster})
	if text, jobID, ok, err := s.jobCommand(ctx, req, cmd, CommandAKS, now); ok {
		return text, jobID, err
	}
	switch cmd.Kind {
	case "list":
		if cmd.AllSubscriptions {
			return s.listAll(ctx, cmd.ResourceGroup)
		}
		clusters, err := az.ListClusters(ctx, cmd.ResourceGroup)
		if err != nil {
			return "", "", err
		}
		return views.ClusterList(cmd.ResourceGroup, s.labelled(sub, clusters)), "", nil
	case "show":
		c, err := az.GetCluster(ctx, cmd.ResourceGroup, cmd.Cluster)
		if err != nil {
			return "", "", s.beingCreated(ctx, target, err)
		}
		return views.ClusterDetail(s.labelled(sub, []aks.Cluster{c})[0]), "", nil
	case "nodepool list":
		c, err := az.GetCluster(ctx, cmd.ResourceGroup, cmd.Cluster)
		if err != nil {
			return "", "", s.beingCreated(ctx, target, err)
		}
		return views.PoolList(c), "", nil
	case "get-versions":
		loc := cmd.Location
		if loc == "" {
			loc = s.Defaults.Location
		}
		vs, err := az.GetVersions(ctx, loc)
		if err != nil {
			return "", "", err
		}
		return views.Versions(loc, vs), "", nil
	case "get-upgrades":
		u, err := az.GetUpgrades(ctx, cmd.ResourceGroup, cmd.Cluster)
		if err != nil {
			return "", "", s.beingCreated(ctx, target, err)
		}
		return views.Upgrades(cmd.Cluster, u), "", nil
	case "abort":
		t := target
		t.Pool = cmd.Pool
		job, err := s.Engine.Abort(ctx, t, req.User)
		if err != nil {
			return "", "", err
		}
		return fmt.Sprintf("Asked Azure to abort job %s on %s. Its thread says when Azure confirms.", job.ID, cmd.Cluster), job.ID, nil
	case "policy":
		return s.Policy.Describe(ctx, target), "", nil
	case "cost":
		return s.cost(ctx, cmd, az, target)
	case "audit":
		return s.audit(ctx, req.User, cmd, target, CommandAKS, now)
	case commands.KindSchedule:
		return s.schedule(ctx, req, cmd)
	}
	if cmd.Op == nil {
		return "", "", aks.Errorf(aks.EInternal, "command %q is not wired to anything", cmd.Kind)
	}
	op := *cmd.Op
	if op.Target.ResourceGroup == "" {
		op.Target.ResourceGroup = cmd.ResourceGroup
	}
	op.Target = s.target(sub, op.Target)
	if op.Kind == aks.OpClusterCreate && op.Location == "" {
		op.Location = s.Defaults.Location
	}
	return s.submit(ctx, req, op, cmd.DryRun)
}

// jobCommand answers the commands on jobs, which /aks and /eks share: ok is false for any
// other command. slash is the command they were typed with, for the hints.
func (s *Service) jobCommand(ctx context.Context, req Request, cmd commands.Command, slash string, now time.Time) (text, jobID string, ok bool, err error) {
	switch cmd.Kind {
	case commands.KindJobs:
		f := jobs.Filter{States: unfinished}
		if cmd.All {
			f = jobs.Filter{Limit: 25}
		}
		list, err := s.Jobs.Jobs(ctx, f)
		if err != nil {
			return "", "", true, fmt.Errorf("read jobs: %w", err)
		}
		return hints(views.JobList(list, now, cmd.All), slash), "", true, nil
	case commands.KindJob:
		job, err := s.Jobs.Job(ctx, cmd.JobID)
		if err != nil {
			return "", "", true, notFoundJob(cmd.JobID, slash, err)
		}
		evs, err := s.Jobs.Events(ctx, job.ID)
		if err != nil {
			return "", "", true, fmt.Errorf("read events of job %s: %w", job.ID, err)
		}
		return views.JobDetail(job, evs, now), "", true, nil
	case commands.KindCancel:
		job, err := s.Engine.Cancel(ctx, cmd.JobID, req.User)
		if err != nil {
			return "", "", true, err
		}
		return fmt.Sprintf("Job %s cancelled.", job.ID), job.ID, true, nil
	case commands.KindApprove, commands.KindDeny:
		text, jobID, err := s.decide(ctx, req.User, cmd.JobID, cmd.Kind == commands.KindApprove, cmd.Reason)
		return text, jobID, true, err
	case commands.KindWhoami:
		text, err := s.Policy.WhoAmI(ctx, req.User)
		return text, "", true, err
	case commands.KindPending:
		text, jobID, err := s.pending(ctx, req.User, now)
		return hints(text, slash), jobID, true, err
	}
	return "", "", false, nil
}

// submit makes the job for op, or answers what it would be (dryRun).
func (s *Service) submit(ctx context.Context, req Request, op aks.Operation, dryRun bool) (string, string, error) {
	submit := jobs.SubmitRequest{Op: op, Requester: req.User, Channel: req.Channel}
	if dryRun {
		job, ev, err := s.Engine.DryRun(ctx, submit)
		if err != nil {
			return "", "", dryRunRefused(s.creating(ctx, op, err))
		}
		return views.DryRun(job, ev.Message), "", nil
	}
	job, err := s.Engine.Submit(ctx, submit)
	if err != nil {
		return "", "", s.creating(ctx, op, err)
	}
	if job.State == aks.StateAwaitingApproval {
		return fmt.Sprintf("Job %s is waiting for approval: follow it in the thread of its message in this channel.", job.ID), job.ID, nil
	}
	return fmt.Sprintf("Job %s is queued: follow it in the thread of its message in this channel.", job.ID), job.ID, nil
}

// decide approves or denies a job typed as a command (`/aks approve 7`, `/aks deny 7 reason`).
func (s *Service) decide(ctx context.Context, user aks.User, jobID string, approve bool, reason string) (string, string, error) {
	job, err := s.Engine.Decide(ctx, jobID, user, approve, reason)
	if err != nil {
		return "", "", err
	}
	switch {
	case !approve:
		return fmt.Sprintf("Job %s denied.", job.ID), job.ID, nil
	case job.State == aks.StateAwaitingApproval:
		return fmt.Sprintf("Approval recorded: job %s has %d of the %d approvals it needs.", job.ID, len(job.Approvals()), job.ApprovalsNeeded), job.ID, nil
	}
	return fmt.Sprintf("Job %s approved; it is queued.", job.ID), job.ID, nil
}

// pending lists the jobs waiting for an approval the user could give.
func (s *Service) pending(ctx context.Context, user aks.User, now time.Time) (string, string, error) {
	waiting, err := s.Jobs.Jobs(ctx, jobs.Filter{States: []aks.JobState{aks.StateAwaitingApproval}})
	if err != nil {
		return "", "", fmt.Errorf("read jobs awaiting approval: %w", err)
	}
	var mine []aks.Job
	for _, j := range waiting {
		already := false
		for _, d := range j.Decisions {
			already = already || d.By.ID == user.ID
		}
		if !already && s.Policy.CanApprove(ctx, user, j) == nil {
			mine = append(mine, j)
		}
	}
	return views.PendingList(mine, now), "", nil
}

// cost answers `/aks cost`: the run rate of one cluster, or of every cluster of the group.
func (s *Service) cost(ctx context.Context, cmd commands.Command, az Reader, target aks.Target) (string, string, error) {
	if s.Costs == nil {
		return "", "", &aks.Error{Code: aks.EUnavailable, Message: "this bot has no price list configured", Hint: "see AKSBOT_PRICES_URL in the README"}
	}
	var clusters []aks.Cluster
	scope := "resource group " + cmd.ResourceGroup
	if cmd.Cluster != "" {
		c, err := az.GetCluster(ctx, cmd.ResourceGroup, cmd.Cluster)
		if err != nil {
			return "", "", s.beingCreated(ctx, target, err)
		}
		target.Cluster = c.Name
		clusters, scope = []aks.Cluster{c}, target.ClusterName()
	} else {
		list, err := az.ListClusters(ctx, cmd.ResourceGroup)
		if err != nil {
			return "", "", err
		}
		clusters = list
	}
	rates := make([]aks.RunRate, 0, len(clusters))
	for _, c := range clusters {
		rates = append(rates, s.Costs.RunRate(ctx, c))
	}
	return views.CostReport(scope, rates), "", nil
}

// dryRunRefused says that a dry run would be refused, and why.
func dryRunRefused(err error) error {
	var ae *aks.Error
	if errors.As(err, &ae) {
		c := *ae
		c.Message = "dry run: this request would be refused: " + c.Message
		return &c
	}
	return err
}

// auditLimit bounds what `/aks audit` reads; the export has everything.
const auditLimit = 200

// audit shows the recent audit trail to approvers.
func (s *Service) audit(ctx context.Context, user aks.User, cmd commands.Command, target aks.Target, slash string, now time.Time) (string, string, error) {
	ok, err := s.Policy.IsApprover(ctx, user)
	if err != nil {
		return "", "", err
	}
	if !ok {
		return "", "", &aks.Error{Code: aks.EUnauthorized, Message: "only approvers can read the audit trail", Hint: "ask an approver, or see " + slash + " policy for who they are"}
	}
	key, scope := "", "all clusters"
	if cmd.Cluster != "" {
		key, scope = target.ClusterKey(), target.ClusterName()
	}
	recs, err := s.Audit.Audit(ctx, now.Add(-cmd.Since), key, auditLimit)
	if err != nil {
		return "", "", fmt.Errorf("read the audit log: %w", err)
	}
	return views.AuditTrail(recs, fmt.Sprintf("%s, last %s", scope, views.Elapsed(cmd.Since))), "", nil
}

// CanDecide answers before a decision form opens, so that nobody types a reason for nothing.
func (s *Service) CanDecide(ctx context.Context, jobID string, user aks.User) Reply {
	job, err := s.Jobs.Job(ctx, jobID)
	if err != nil {
		return errorReply(notFoundJob(jobID, CommandAKS, err))
	}
	if job.State != aks.StateAwaitingApproval {
		return errorReply(aks.Errorf(aks.EConflict, "job %s is already %s; nothing to decide", job.ID, job.State.Words()))
	}
	if err := s.Policy.CanApprove(ctx, user, job); err != nil {
		return errorReply(err)
	}
	return Reply{}
}

// Decide passes a click on to the engine; a refusal goes back to the clicker only.
func (s *Service) Decide(ctx context.Context, jobID string, user aks.User, approve bool, reason string) (reply Reply) {
	defer func() {
		if r := recover(); r != nil {
			s.log().Error("decision handler panicked", "panic", r, "user", user.ID, "job", jobID)
			reply = Reply{Error: true, Text: "Something went wrong inside the bot while recording that; it has been logged."}
		}
	}()
	if _, err := s.Engine.Decide(ctx, jobID, user, approve, reason); err != nil {
		s.log().Info("decision refused", "user", user.ID, "job", jobID, "approve", approve, "err", err)
		return errorReply(err)
	}
	return Reply{}
}

func notFoundJob(id, slash string, err error) error {
	if errors.Is(err, jobs.ErrNotFound) {
		return &aks.Error{Code: aks.ENotFound, Message: fmt.Sprintf("there is no job %s", id), Hint: "see " + slash + " jobs --all", Err: err}
	}
	return fmt.Errorf("read job %s: %w", id, err)
}

// errorReply says what went wrong in words for the person who asked. Internal details stay in
// the logs.
func errorReply(err error) Reply {
	return cloudErrorReply("Azure", err)
}

// cloudErrorReply is errorReply for a command whose cloud errors come from cloud ("EKS").
func cloudErrorReply(cloud string, err error) Reply {
	var usage *commands.UsageError
	var ae *aks.Error
	var az *aks.AzureError
	var b strings.Builder
	switch {
	case errors.As(err, &usage):
		b.WriteString(":warning: " + usage.Error())
	case errors.As(err, &ae):
		b.WriteString(":warning: " + capitalise(ae.Message) + ".")
		if ae.Hint != "" {
			b.WriteString(" " + capitalise(ae.Hint) + ".")
		}
	case errors.As(err, &az):
		fmt.Fprintf(&b, ":x: %s said %s: %s", cloud, az.Code, az.Message)
	default:
		b.WriteString(":x: Something went wrong while handling that (it has been logged). Try again in a moment.")
	}
	return Reply{Error: true, Text: b.String()}
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
