package policy

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Groups resolves Slack user groups (S…) to their members. The Slack transport implements it
// with usergroups.users.list.
type Groups interface {
	// Members returns the user IDs in the group. An error means membership is unknown, and the
	// policy then refuses rather than guesses.
	Members(ctx context.Context, groupID string) ([]string, error)
}

// StaticGroups is a fixed group -> members table, for tests and the command line. A group it
// does not list is an error, so that a typo fails closed.
type StaticGroups map[string][]string

// Members returns the listed members of the group.
func (g StaticGroups) Members(_ context.Context, groupID string) ([]string, error) {
	members, ok := g[groupID]
	if !ok {
		return nil, fmt.Errorf("user group %s is not known", groupID)
	}
	return slices.Clone(members), nil
}

// NewCachedGroups keeps each group's members for ttl after src returned them, so that a busy
// approval thread does not call Slack at every click. now is the clock (time.Now in
// production). Errors are not cached, and an expired entry is never used when src fails: a
// person removed from a group loses their rights within ttl.
func NewCachedGroups(src Groups, ttl time.Duration, now func() time.Time) Groups {
	if now == nil {
		now = time.Now
	}
	return &cachedGroups{src: src, ttl: ttl, now: now, entries: map[string]cacheEntry{}}
}

type cachedGroups struct {
	src Groups
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	members []string
	fetched time.Time
}

func (c *cachedGroups) Members(ctx context.Context, groupID string) ([]string, error) {
	c.mu.Lock()
	e, ok := c.entries[groupID]
	c.mu.Unlock()
	if ok && c.now().Before(e.fetched.Add(c.ttl)) {
		return slices.Clone(e.members), nil
	}
	if c.src == nil {
		return nil, fmt.Errorf("no source for user group %s", groupID)
	}
	// The lock is not held during the call: two concurrent misses both ask Slack, which is
	// cheaper than making every click wait behind one slow request.
	members, err := c.src.Members(ctx, groupID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.entries[groupID] = cacheEntry{members: slices.Clone(members), fetched: c.now()}
	c.mu.Unlock()
	return members, nil
}
