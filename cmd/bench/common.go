package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
)

// Tokens the fake Slack accepts; they are not secrets.
const (
	benchAppToken = "xapp-1-A0BENCH-0000-bench"
	benchBotToken = "xoxb-0000-bench"
	benchChannel  = "C0BENCH01"
	benchUser     = "UBENCH001"
	benchApprover = "UBENCHAPP"
)

// benchPolicy lets anyone ask for anything; approvals > 0 makes every job wait for that many
// approvals from benchApprover. It stands in for internal/policy so that policy changes do not
// change what is measured.
type benchPolicy struct{ approvals int }

var _ jobs.Policy = benchPolicy{}

func (benchPolicy) CanRequest(context.Context, aks.User, string, aks.Operation) error { return nil }

func (p benchPolicy) Evaluate(context.Context, aks.User, string, aks.Operation, aks.Plan) (jobs.Requirement, error) {
	if p.approvals == 0 {
		return jobs.Requirement{Rule: "bench"}, nil
	}
	return jobs.Requirement{Rule: "bench", Approvals: p.approvals, Approvers: []string{"<@" + benchApprover + ">"}}, nil
}

func (benchPolicy) CanApprove(_ context.Context, user aks.User, job aks.Job) error {
	if user.ID != benchApprover || user.ID == job.Requester.ID {
		return aks.Errorf(aks.EUnauthorized, "only <@%s> approves in the benchmark", benchApprover)
	}
	return nil
}

// staticCredential is accepted by the simulated cloud, which only checks for a bearer token.
type staticCredential struct{}

func (staticCredential) GetToken(context.Context, azpolicy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "bench-token", ExpiresOn: time.Now().Add(24 * time.Hour)}, nil
}

// armCounter is an azcore per-try policy that counts ARM requests: all of them, and the GETs of
// operation status URLs per operation, with the time of each operation's first poll after a mark.
type armCounter struct {
	mu        sync.Mutex
	total     int
	polls     map[string]int       // operation ID -> status GETs
	firstPoll map[string]time.Time // operation ID -> first status GET after mark
	mark      time.Time
}

func newARMCounter() *armCounter {
	return &armCounter{polls: map[string]int{}, firstPoll: map[string]time.Time{}}
}

func (c *armCounter) Do(req *azpolicy.Request) (*http.Response, error) {
	raw := req.Raw()
	now := time.Now()
	c.mu.Lock()
	c.total++
	if id, ok := statusOperationID(raw.Method, raw.URL.Path); ok {
		c.polls[id]++
		if !c.mark.IsZero() && now.After(c.mark) {
			if _, seen := c.firstPoll[id]; !seen {
				c.firstPoll[id] = now
			}
		}
	}
	c.mu.Unlock()
	return req.Next()
}

// statusOperationID returns the operation ID of a GET of an Azure-AsyncOperation status URL
// (.../locations/{loc}/operations/{id}).
func statusOperationID(method, path string) (string, bool) {
	if method != http.MethodGet {
		return "", false
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	n := len(segs)
	if n >= 2 && strings.EqualFold(segs[n-2], "operations") {
		return strings.ToLower(segs[n-1]), true
	}
	return "", false
}

// startMark records first polls from now on.
func (c *armCounter) startMark() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mark = time.Now()
	clear(c.firstPoll)
}

func (c *armCounter) snapshot() (total int, polls map[string]int, first map[string]time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	polls = make(map[string]int, len(c.polls))
	for k, v := range c.polls {
		polls[k] = v
	}
	first = make(map[string]time.Time, len(c.firstPoll))
	for k, v := range c.firstPoll {
		first[k] = v
	}
	return c.total, polls, first
}

// percentile returns the p-th percentile (0-100) of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

func sortedCopy(d []time.Duration) []time.Duration {
	out := slices.Clone(d)
	slices.Sort(out)
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuTime is the user+system CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPUTime reads utime+stime of another process from /proc/PID/stat.
func procCPUTime(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time of process %d: %w", pid, err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("read CPU time of process %d: short stat line", pid)
	}
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	st, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("read CPU time of process %d: bad stat line", pid)
	}
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// rssBytes reads VmRSS from /proc/self/status.
func rssBytes() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read resident memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read resident memory: %q: %w", v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("read resident memory: no VmRSS in /proc/self/status")
}

const mib = 1 << 20

// waitUntil polls cond every tick until it holds or ctx ends.
func waitUntil(ctx context.Context, tick time.Duration, cond func() (bool, error)) error {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// scaled divides a real-world duration by the time scale.
func scaled(d time.Duration, scale float64) time.Duration {
	return time.Duration(float64(d) / scale)
}
