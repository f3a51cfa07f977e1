package chatops

import (
	"context"
	"fmt"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/views"
)

// reader returns the read side of Azure in sub ("" ID = the default).
func (s *Service) reader(sub aks.Subscription) (Reader, error) {
	if s.AzureIn == nil || sub.ID == "" {
		return s.Azure, nil
	}
	r, err := s.AzureIn(sub.ID)
	if err != nil {
		return nil, fmt.Errorf("read Azure in subscription %s: %w", sub.Name, err)
	}
	return r, nil
}

// target places t in sub, naming the subscription for people when several are configured.
func (s *Service) target(sub aks.Subscription, t aks.Target) aks.Target {
	if sub.ID == "" {
		return t
	}
	return s.Subscriptions.In(t, sub)
}

// labelled names each cluster's subscription when several are configured, so lines show it.
func (s *Service) labelled(sub aks.Subscription, clusters []aks.Cluster) []aks.Cluster {
	label := s.Subscriptions.Label(sub.ID)
	if label == "" {
		return clusters
	}
	out := make([]aks.Cluster, len(clusters))
	for i, c := range clusters {
		c.Subscription = label
		out[i] = c
	}
	return out
}

// listAll answers `/aks list --all-subscriptions`: the clusters of every configured
// subscription, each line naming its subscription.
func (s *Service) listAll(ctx context.Context, rg string) (string, string, error) {
	var all []aks.Cluster
	for _, sub := range s.Subscriptions.List {
		az, err := s.reader(sub)
		if err != nil {
			return "", "", err
		}
		clusters, err := az.ListClusters(ctx, rg)
		if err != nil {
			return "", "", fmt.Errorf("list clusters in subscription %s: %w", sub.Name, err)
		}
		for _, c := range clusters {
			c.Subscription = sub.Name
			all = append(all, c)
		}
	}
	return views.ClusterList(rg, all), "", nil
}

// beingCreated turns "not found" for a cluster that a queued or running job of this bot is
// creating into an answer that says so, rather than suggesting the cluster does not exist.
func (s *Service) beingCreated(ctx context.Context, t aks.Target, err error) error {
	if aks.ErrorCode(err) != aks.ENotFound || s.Jobs == nil || t.Cluster == "" {
		return err
	}
	creating, rerr := s.Jobs.Jobs(ctx, jobs.Filter{States: []aks.JobState{aks.StateQueued, aks.StateRunning}, ClusterKey: t.ClusterKey()})
	if rerr != nil {
		s.log().Warn("could not read the jobs to tell a cluster being created from a missing one", "cluster", t.String(), "err", rerr)
		return err
	}
	for _, j := range creating {
		if j.Op.Kind == aks.OpClusterCreate {
			return &aks.Error{Code: aks.EConflict,
				Message: fmt.Sprintf("cluster %s is being created by job %s (%s); try again when it ends", t.Cluster, j.ID, j.State.Words()),
				Hint:    "see /aks job " + j.ID, Err: err}
		}
	}
	return err
}

// creating is beingCreated for a refused request on op's cluster.
func (s *Service) creating(ctx context.Context, op aks.Operation, err error) error {
	if op.Kind == aks.OpClusterCreate {
		return err
	}
	t := op.Target
	t.Pool = ""
	return s.beingCreated(ctx, t, err)
}
