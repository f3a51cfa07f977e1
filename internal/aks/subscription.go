package aks

import (
	"fmt"
	"sort"
	"strings"
)

// Subscription is one Azure subscription the bot works in: the name people type and its ID.
// When only AZURE_SUBSCRIPTION_ID is set, the name is the ID.
type Subscription struct {
	Name string
	ID   string
}

// Subscriptions are the configured subscriptions. The zero value knows none: Resolve and
// Target then leave targets in the default subscription ("").
type Subscriptions struct {
	List    []Subscription // sorted by name
	Default string         // ID of the default subscription
}

// NewSubscriptions makes the set from names to IDs and the default's name (or ID).
func NewSubscriptions(byName map[string]string, def string) Subscriptions {
	s := Subscriptions{}
	for name, id := range byName {
		s.List = append(s.List, Subscription{Name: name, ID: id})
	}
	sort.Slice(s.List, func(i, j int) bool { return s.List[i].Name < s.List[j].Name })
	if d, ok := s.lookup(def); ok {
		s.Default = d.ID
	}
	return s
}

// Several reports whether more than one subscription is configured: only then do cards and
// lines name the subscription, so that the single-subscription texts stay as they were.
func (s Subscriptions) Several() bool { return len(s.List) > 1 }

// Names lists the configured names, sorted.
func (s Subscriptions) Names() []string {
	names := make([]string, len(s.List))
	for i, sub := range s.List {
		names[i] = sub.Name
	}
	return names
}

func (s Subscriptions) lookup(nameOrID string) (Subscription, bool) {
	for _, sub := range s.List {
		if sub.Name == nameOrID || strings.EqualFold(sub.ID, nameOrID) {
			return sub, true
		}
	}
	return Subscription{}, false
}

// Resolve finds the subscription a command names by name or ID; "" is the default. Anything
// else is refused with the known names, before Azure is read.
func (s Subscriptions) Resolve(nameOrID string) (Subscription, error) {
	if nameOrID == "" {
		if d, ok := s.lookup(s.Default); ok {
			return d, nil
		}
		return Subscription{}, nil
	}
	if sub, ok := s.lookup(nameOrID); ok {
		return sub, nil
	}
	return Subscription{}, &Error{Code: EInvalid,
		Message: fmt.Sprintf("unknown subscription %q: known: %s", nameOrID, strings.Join(s.Names(), ", ")),
		Hint:    "use --subscription with one of those names"}
}

// Name returns the configured name of a subscription ID ("" when unknown).
func (s Subscriptions) Name(id string) string {
	if sub, ok := s.lookup(id); ok {
		return sub.Name
	}
	return ""
}

// Label returns the name to show for a subscription ID on cards and lines: "" when only one
// subscription is configured (texts stay as they were), else its name (or the ID if unknown).
func (s Subscriptions) Label(id string) string {
	if !s.Several() {
		return ""
	}
	if id == "" {
		id = s.Default
	}
	if n := s.Name(id); n != "" {
		return n
	}
	return id
}

// In places t in the subscription sub: it sets the ID, and the name when it is to be shown.
func (s Subscriptions) In(t Target, sub Subscription) Target {
	t.Subscription = sub.ID
	t.SubscriptionName = s.Label(sub.ID)
	return t
}
