package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/chatops"
	"github.com/aksbot/aksbot/internal/config"
	"github.com/aksbot/aksbot/internal/eks"
	ekssim "github.com/aksbot/aksbot/internal/eks/sim"
)

// eksSide is the bot's EKS: a client (real, or on the simulated EKS) and what the chat layer
// needs of it. A nil *eksSide means /eks is not offered.
type eksSide struct {
	client  *eks.Client
	account string // the AWS account ID, from the configuration or STS; "" when unknown
	regions []string
	cfg     config.AWS
	sim     *ekssim.Sim // the in-process simulated EKS, or nil
}

// identityTimeout bounds the STS call that learns the account at start.
const identityTimeout = 10 * time.Second

// newEKS sets up EKS as the configuration says: the real one when the aws section (or
// AKSBOT_EKS=1) asks for it; the simulated one in the console demo, where Azure is simulated
// too and nothing about AWS is configured; else none. The real client sends nothing here but one
// STS call, when the account is not configured: wrong credentials show in that line of the log
// and at the first /eks command, not as a bot that does not start.
func newEKS(ctx context.Context, cfg config.Config, log *slog.Logger) (*eksSide, error) {
	aws := cfg.File.AWS
	switch {
	case aws.Enabled():
		client, err := realEKS(ctx, aws, log)
		if err != nil {
			return nil, fmt.Errorf("set up EKS: %w", err)
		}
		side := &eksSide{client: client, account: aws.Account, regions: client.Regions(), cfg: aws}
		if side.account == "" {
			ictx, cancel := context.WithTimeout(ctx, identityTimeout)
			account, arn, err := client.Identity(ictx)
			cancel()
			if err != nil {
				// Policy rules that name accounts then match no EKS target: jobs fall to the
				// rules without accounts (by default: approval needed), never to fewer checks.
				log.Error("could not learn the AWS account from STS; policy rules naming accounts will not match /eks requests until the bot restarts or aws.account is set",
					"err", err)
			} else {
				side.account = account
				log.Info("EKS identity", "account", account, "arn", arn)
			}
		}
		return side, nil
	case cfg.Simulated() && !aws.SwitchedOff():
		s := ekssim.New(ekssim.Options{Durations: consoleEKSDurations(cfg.File.Simulator.Speed), Speed: 1, Logger: log})
		client, err := eks.New(ctx, eks.Config{Regions: s.Regions(), HTTPClient: s.HTTPClient(),
			LoadOptions: ekssim.ClientOptions(ekssim.Endpoint), Logger: log})
		if err != nil {
			return nil, fmt.Errorf("set up the simulated EKS: %w", err)
		}
		return &eksSide{client: client, account: ekssim.DefaultAccount, regions: client.Regions(), cfg: aws, sim: s}, nil
	}
	return nil, nil
}

// consoleEKSDurations are the simulated EKS's durations in the console: seconds, like the
// simulated Azure's, not the minutes EKS takes, divided by simulator.speed (at least a second,
// so that the node group passes through UPDATING where the thread can show it).
func consoleEKSDurations(speed float64) ekssim.Durations {
	f := func(d time.Duration) time.Duration { return simDuration(d, speed) }
	return ekssim.Durations{Config: f(15 * time.Second), Version: f(45 * time.Second), Create: f(40 * time.Second), Delete: f(30 * time.Second)}
}

// realEKS is the client of the AWS EKS the aws section names, as the bot and doctor use it.
func realEKS(ctx context.Context, aws config.AWS, log *slog.Logger) (*eks.Client, error) {
	return eks.New(ctx, eks.Config{Regions: aws.Regions, Profile: aws.Profile, Logger: log})
}

// chat is the /eks part of the chat service (nil: /eks says it is not configured).
func (e *eksSide) chat() *chatops.EKS {
	if e == nil {
		return nil
	}
	return &chatops.EKS{Reader: e.client.Reader(), Regions: e.regions, Account: e.account,
		NodegroupDefaults: e.cfg.NodegroupDefaults}
}

// cloud is what the engine runs EKS jobs on (nil without EKS).
func (e *eksSide) cloud() aks.Cloud {
	if e == nil {
		return nil
	}
	return e.client.Cloud()
}

// byProvider runs each job in its target's cloud: AKS targets on Azure, EKS targets on EKS.
type byProvider struct {
	azure aks.Cloud
	eks   aks.Cloud // nil: EKS is not configured
}

var (
	_ aks.Cloud    = byProvider{}
	_ aks.Replayer = byProvider{}
)

// errNoEKS refuses EKS work on a bot without EKS: a job stored while EKS was configured, and
// found after a restart without it. It says what to do rather than failing in an odd way.
var errNoEKS = &aks.Error{Code: aks.EUnavailable, Message: "EKS is not configured on this bot",
	Hint: "set the aws section (or AKSBOT_EKS=1) and restart; see the README's EKS managed node groups"}

func (b byProvider) in(t aks.Target) (aks.Cloud, error) {
	if !t.IsEKS() {
		return b.azure, nil
	}
	if b.eks == nil {
		return nil, errNoEKS
	}
	return b.eks, nil
}

func (b byProvider) Plan(ctx context.Context, op aks.Operation) (aks.Plan, error) {
	c, err := b.in(op.Target)
	if err != nil {
		return aks.Plan{}, err
	}
	return c.Plan(ctx, op)
}

func (b byProvider) Begin(ctx context.Context, op aks.Operation, plan aks.Plan, requestToken string) (aks.CloudOperation, error) {
	c, err := b.in(op.Target)
	if err != nil {
		return nil, err
	}
	return c.Begin(ctx, op, plan, requestToken)
}

func (b byProvider) Resume(ctx context.Context, op aks.Operation, token string) (aks.CloudOperation, error) {
	c, err := b.in(op.Target)
	if err != nil {
		return nil, err
	}
	return c.Resume(ctx, op, token)
}

func (b byProvider) ProvisioningState(ctx context.Context, t aks.Target) (string, error) {
	c, err := b.in(t)
	if err != nil {
		return "", err
	}
	return c.ProvisioningState(ctx, t)
}

func (b byProvider) Applied(ctx context.Context, op aks.Operation, plan aks.Plan) (bool, error) {
	c, err := b.in(op.Target)
	if err != nil {
		return false, err
	}
	return c.Applied(ctx, op, plan)
}

func (b byProvider) Abort(ctx context.Context, t aks.Target) error {
	c, err := b.in(t)
	if err != nil {
		return err
	}
	return c.Abort(ctx, t)
}

// Replays passes the question on to the target's cloud: EKS sends a request again with the
// same token after a crash; Azure does not say.
func (b byProvider) Replays(op aks.Operation) bool {
	c, err := b.in(op.Target)
	if err != nil {
		return false
	}
	r, ok := c.(aks.Replayer)
	return ok && r.Replays(op)
}

// checkEKS is doctor's EKS line: who the credentials are (STS), and that each configured
// region's clusters can be listed.
func (d *doctor) checkEKS(ctx context.Context, cfg config.Config) {
	aws := cfg.File.AWS
	client, err := realEKS(ctx, aws, d.log)
	if err != nil {
		d.report(statusFail, "aws", err.Error(), "set aws.regions (or AWS_REGION) and check the profile; see the README's EKS managed node groups")
		return
	}
	tctx, cancel := context.WithTimeout(ctx, d.timeout)
	account, arn, err := client.Identity(tctx)
	cancel()
	switch {
	case eks.Unreachable(err):
		d.report(statusFail, "aws credentials", userText(err), eks.UnreachableHint)
		return
	case err != nil:
		d.report(statusFail, "aws credentials", userText(err),
			"give the bot AWS credentials: IRSA or EKS Pod Identity in Kubernetes, a profile or AWS_ACCESS_KEY_ID elsewhere (see the README)")
		return
	}
	if aws.Account != "" && aws.Account != account {
		d.report(statusFail, "aws credentials", fmt.Sprintf("the credentials are %s, of account %s, but aws.account is %s", arn, account, aws.Account),
			"use credentials of the configured account, or correct aws.account")
		return
	}
	d.report(statusOK, "aws credentials", fmt.Sprintf("%s (account %s)", arn, account), "")
	for _, region := range client.Regions() {
		tctx, cancel := context.WithTimeout(ctx, d.timeout)
		_, err := client.Reader().ListClusters(tctx, []string{region})
		cancel()
		var ae *aks.Error
		switch {
		case err == nil:
			d.report(statusOK, "eks "+region, "can list clusters", "")
		case errors.As(err, &ae) && ae.Code == aks.EUnauthorized:
			d.report(statusFail, "eks "+region, userText(err), "grant the bot's role deploy/aws/iam-policy.json")
		default:
			d.report(statusFail, "eks "+region, userText(err), "check the region, the network path to EKS and the bot's IAM policy (deploy/aws/iam-policy.json)")
		}
	}
}
