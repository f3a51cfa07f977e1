package policy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// countingGroups answers from a table, counts the calls and can be made to fail.
type countingGroups struct {
	mu      sync.Mutex
	members map[string][]string
	calls   int
	fail    bool
}

func (g *countingGroups) Members(_ context.Context, id string) ([]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	if g.fail {
		return nil, errors.New("slack: internal_error")
	}
	return append([]string(nil), g.members[id]...), nil
}

func (g *countingGroups) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

func (g *countingGroups) set(id string, members []string, fail bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.members[id], g.fail = members, fail
}

// fakeClock is a settable clock for the cache.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestCachedGroupsTTL(t *testing.T) {
	ctx := context.Background()
	src := &countingGroups{members: map[string][]string{"S0SRE": {"U0SRE1"}}}
	clock := &fakeClock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	g := NewCachedGroups(src, 5*time.Minute, clock.now)

	members := func() []string {
		t.Helper()
		m, err := g.Members(ctx, "S0SRE")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := members(); len(m) != 1 || m[0] != "U0SRE1" {
		t.Fatalf("members = %v", m)
	}
	src.set("S0SRE", []string{"U0SRE2"}, false) // Slack changes; the cache does not know yet
	clock.advance(5*time.Minute - time.Second)
	if m := members(); m[0] != "U0SRE1" || src.count() != 1 {
		t.Fatalf("within the TTL: members %v after %d calls, want the cached U0SRE1 after 1", m, src.count())
	}
	clock.advance(time.Second) // exactly the TTL: expired
	if m := members(); m[0] != "U0SRE2" || src.count() != 2 {
		t.Fatalf("after the TTL: members %v after %d calls, want the new U0SRE2 after 2", m, src.count())
	}

	// A caller changing the returned slice does not change the cache.
	m := members()
	m[0] = "U0EVIL"
	if again := members(); again[0] != "U0SRE2" {
		t.Fatalf("cache changed through a returned slice: %v", again)
	}

	// When the entry has expired and Slack fails, the stale entry is not used.
	clock.advance(10 * time.Minute)
	src.set("S0SRE", []string{"U0SRE2"}, true)
	if _, err := g.Members(ctx, "S0SRE"); err == nil {
		t.Fatal("an expired entry was used although Slack failed")
	}
	// Errors are not cached: the next call asks again and succeeds.
	src.set("S0SRE", []string{"U0SRE3"}, false)
	if m := members(); m[0] != "U0SRE3" {
		t.Fatalf("after recovery: %v", m)
	}

	// Groups are cached separately.
	src.set("S0OTHER", []string{"U0X"}, false)
	before := src.count()
	if m, _ := g.Members(ctx, "S0OTHER"); len(m) != 1 || src.count() != before+1 {
		t.Fatalf("another group was not fetched: %v", m)
	}
}

func TestCachedGroupsNilSource(t *testing.T) {
	if _, err := NewCachedGroups(nil, time.Minute, nil).Members(context.Background(), "S0SRE"); err == nil {
		t.Fatal("nil source answered")
	}
}

// Many goroutines asking at once (run with -race): every answer is right and the source is asked
// far fewer times than the cache is.
func TestCachedGroupsConcurrent(t *testing.T) {
	src := &countingGroups{members: map[string][]string{}}
	for i := range 4 {
		src.members[fmt.Sprintf("S0G%d", i)] = []string{fmt.Sprintf("U0M%d", i)}
	}
	clock := &fakeClock{t: time.Unix(0, 0)}
	g := NewCachedGroups(src, time.Minute, clock.now)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				id := fmt.Sprintf("S0G%d", (w+i)%4)
				m, err := g.Members(context.Background(), id)
				if err != nil || len(m) != 1 || m[0] != "U0M"+id[3:] {
					errs <- fmt.Errorf("Members(%s) = %v, %v", id, m, err)
					return
				}
				if i%25 == 0 {
					clock.advance(time.Minute)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := src.count(); n >= 16*50 {
		t.Errorf("the source was asked %d times for %d lookups: nothing was cached", n, 16*50)
	}
}

func TestStaticGroups(t *testing.T) {
	g := StaticGroups{"S0SRE": {"U0SRE1"}}
	m, err := g.Members(context.Background(), "S0SRE")
	if err != nil || len(m) != 1 {
		t.Fatalf("Members = %v, %v", m, err)
	}
	m[0] = "U0EVIL"
	if g["S0SRE"][0] != "U0SRE1" {
		t.Fatal("the table changed through a returned slice")
	}
	if _, err := g.Members(context.Background(), "S0TYPO"); err == nil {
		t.Fatal("an unknown group resolved")
	}
}
