package azure

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

// Subscription returns the ID of the subscription the client works in.
func (c *Client) Subscription() string { return c.sub }

// Clouds serves several subscriptions with one Client each. It implements aks.Cloud by
// handing each call to the client of the target's subscription (the default one for targets
// without, such as jobs stored before subscriptions were named), so the engine's contract is
// unchanged and a job can never reach another subscription than its target's.
type Clouds struct {
	byID map[string]*Client // by lower-case subscription ID
	def  *Client
}

var _ aks.Cloud = (*Clouds)(nil)

// NewClouds makes the set; def is the default subscription's ID and must be among the clients.
func NewClouds(def string, clients ...*Client) (*Clouds, error) {
	m := &Clouds{byID: map[string]*Client{}}
	for _, c := range clients {
		m.byID[strings.ToLower(c.sub)] = c
	}
	m.def = m.byID[strings.ToLower(def)]
	if m.def == nil {
		return nil, fmt.Errorf("azure: the default subscription %s has no client", def)
	}
	return m, nil
}

// In returns the client of a subscription ID ("" = the default).
func (m *Clouds) In(sub string) (*Client, error) {
	if sub == "" {
		return m.def, nil
	}
	if c, ok := m.byID[strings.ToLower(sub)]; ok {
		return c, nil
	}
	return nil, &aks.Error{Code: aks.EInvalid, Message: fmt.Sprintf("subscription %s is not configured", sub),
		Hint: "List it under azure.subscriptions in the configuration file."}
}

// Default returns the default subscription's client.
func (m *Clouds) Default() *Client { return m.def }

// All returns the clients, by subscription ID.
func (m *Clouds) All() []*Client {
	all := make([]*Client, 0, len(m.byID))
	for _, c := range m.byID {
		all = append(all, c)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].sub < all[j].sub })
	return all
}

// Plan implements aks.Cloud in the target's subscription.
func (m *Clouds) Plan(ctx context.Context, op aks.Operation) (aks.Plan, error) {
	c, err := m.In(op.Target.Subscription)
	if err != nil {
		return aks.Plan{}, err
	}
	return c.Plan(ctx, op)
}

// Begin implements aks.Cloud in the target's subscription.
func (m *Clouds) Begin(ctx context.Context, op aks.Operation, plan aks.Plan, requestToken string) (aks.CloudOperation, error) {
	c, err := m.In(op.Target.Subscription)
	if err != nil {
		return nil, err
	}
	return c.Begin(ctx, op, plan, requestToken)
}

// Resume implements aks.Cloud in the target's subscription.
func (m *Clouds) Resume(ctx context.Context, op aks.Operation, token string) (aks.CloudOperation, error) {
	c, err := m.In(op.Target.Subscription)
	if err != nil {
		return nil, err
	}
	return c.Resume(ctx, op, token)
}

// ProvisioningState implements aks.Cloud in the target's subscription.
func (m *Clouds) ProvisioningState(ctx context.Context, t aks.Target) (string, error) {
	c, err := m.In(t.Subscription)
	if err != nil {
		return "", err
	}
	return c.ProvisioningState(ctx, t)
}

// Applied implements aks.Cloud in the target's subscription.
func (m *Clouds) Applied(ctx context.Context, op aks.Operation, plan aks.Plan) (bool, error) {
	c, err := m.In(op.Target.Subscription)
	if err != nil {
		return false, err
	}
	return c.Applied(ctx, op, plan)
}

// Abort implements aks.Cloud in the target's subscription.
func (m *Clouds) Abort(ctx context.Context, t aks.Target) error {
	c, err := m.In(t.Subscription)
	if err != nil {
		return err
	}
	return c.Abort(ctx, t)
}
