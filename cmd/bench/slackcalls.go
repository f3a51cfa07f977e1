package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/jobs"
	"github.com/aksbot/aksbot/internal/slack"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
)

// realSlackOp is benchmark 3's operation: ten minutes in Azure.
const realSlackOp = 10 * time.Minute

// Slack's Web API limits, as documented (https://api.slack.com/apis/rate-limits): chat.postMessage
// about one message per second per channel with short bursts; chat.update Tier 3 (50+ per
// minute); chat.postEphemeral Tier 4 (100+ per minute). Bursts are allowed "for short periods":
// the burst sizes here are this benchmark's assumption.
var slackLimits = map[string]struct {
	perSecond  float64
	burst      float64
	perChannel bool
}{
	"chat.postMessage":   {1, 3, true},
	"chat.update":        {50.0 / 60, 10, false},
	"chat.postEphemeral": {100.0 / 60, 20, false},
}

// rateLimiter is a reverse proxy in front of the fake Slack that answers 429 with Retry-After,
// as Slack does, when a method's limit is exceeded, and counts calls. The fake itself can only
// refuse the next n calls of a method; Slack's limits are rates.
type rateLimiter struct {
	scale float64 // time runs this many times faster: the rates are multiplied by it
	proxy *httputil.ReverseProxy

	mu      sync.Mutex
	buckets map[string]*bucket
	calls   map[string]int
	limited map[string]int
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newRateLimiter(target string, scale float64) (*rateLimiter, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("rate limiter target: %w", err)
	}
	return &rateLimiter{scale: scale, proxy: httputil.NewSingleHostReverseProxy(u),
		buckets: map[string]*bucket{}, calls: map[string]int{}, limited: map[string]int{}}, nil
}

func (l *rateLimiter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	channel := ""
	if form, err := url.ParseQuery(string(body)); err == nil {
		channel = form.Get("channel")
	}
	if wait, ok := l.take(method, channel, time.Now()); !ok {
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"ok":false,"error":"ratelimited"}`))
		return
	}
	l.proxy.ServeHTTP(w, r)
}

// take counts a call and reports whether the limit lets it through, else how long to wait.
func (l *rateLimiter) take(method, channel string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls[method]++
	lim, ok := slackLimits[method]
	if !ok {
		return 0, true
	}
	key := method
	if lim.perChannel {
		key += "/" + channel
	}
	rate := lim.perSecond * l.scale
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: lim.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(lim.burst, b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	l.limited[method]++
	return time.Duration((1 - b.tokens) / rate * float64(time.Second)), false
}

// counts returns the calls and 429 answers per method, leaving out socket-mode housekeeping.
func (l *rateLimiter) counts() (calls, limited map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	calls, limited = map[string]int{}, map[string]int{}
	for m, n := range l.calls {
		if m != "apps.connections.open" && m != "auth.test" {
			calls[m] = n
		}
	}
	for m, n := range l.limited {
		limited[m] = n
	}
	return calls, limited
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func breakdown(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// slackWorld is aksbot with its Slack transport behind the rate-limiting proxy.
type slackWorld struct {
	sl      *slacktest.Server
	limiter *rateLimiter
	proxy   *httptest.Server
	p       *inProcess
	t       *aksbotTransport
}

func startSlackWorld(ctx context.Context, dir string, clusters, approvals int, scale float64) (*slackWorld, error) {
	sw := &slackWorld{sl: slacktest.NewServer(slacktest.WithAppToken(benchAppToken), slacktest.WithBotToken(benchBotToken))}
	base := strings.TrimSuffix(sw.sl.APIURL(), "/api/")
	var err error
	if sw.limiter, err = newRateLimiter(base, scale); err != nil {
		sw.sl.Close()
		return nil, err
	}
	sw.proxy = httptest.NewServer(sw.limiter)
	apiURL := sw.proxy.URL + "/api/"
	var reporter *slack.Bot
	sw.p, err = startInProcess(ctx, inProcessConfig{dir: dir, clusters: clusters, approvals: approvals,
		opDuration: scaled(realSlackOp, scale), retryAfter: scaled(realRetryAfter, scale),
		poll: scaled(realPollInterval, scale), progress: scaled(realProgressInterval, scale),
		reporter: func(p *inProcess) (jobs.Reporter, error) {
			var err error
			reporter, err = slack.New(slack.Config{AppToken: benchAppToken, BotToken: benchBotToken, APIURL: apiURL, Logger: benchLogger()}, p.svc, p.st)
			return reporter, err
		}})
	if err != nil {
		sw.close()
		return nil, err
	}
	// One Bot both reports and receives, as in cmd/bot.
	before := sw.sl.Connections()
	runCtx, cancel := context.WithCancel(ctx)
	sw.t = &aksbotTransport{cancel: cancel, done: make(chan error, 1)}
	// Run does not deliver the outbox: the one replica runs the worker beside it, as cmd/bot does.
	go func() {
		outDone := make(chan error, 1)
		go func() { outDone <- reporter.RunOutbox(runCtx) }()
		err := reporter.Run(runCtx)
		if oerr := <-outDone; err == nil {
			err = oerr
		}
		sw.t.done <- err
	}()
	if err := waitConnected(ctx, sw.sl, before); err != nil {
		sw.close()
		return nil, err
	}
	return sw, nil
}

func (sw *slackWorld) close() {
	if sw.t != nil {
		sw.t.stop()
	}
	if sw.p != nil {
		sw.p.stop()
	}
	if sw.proxy != nil {
		sw.proxy.Close()
	}
	sw.sl.Close()
}

func (sw *slackWorld) slash(ctx context.Context, user, text string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := sw.sl.SendSlash(ctx, slacktest.Slash{User: user, UserName: strings.ToLower(user), Channel: benchChannel, Text: text})
	return err
}

// waitReported waits until n jobs have ended and their end has been delivered to Slack.
func (sw *slackWorld) waitReported(ctx context.Context, n int, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err := waitUntil(ctx, 100*time.Millisecond, func() (bool, error) {
		list, err := sw.p.st.Jobs(ctx, jobs.Filter{})
		if err != nil {
			return false, err
		}
		done := 0
		for _, j := range list {
			if j.State.Final() && j.State != aks.StateSucceeded {
				msg := string(j.State)
				if j.Error != nil {
					msg += ": " + j.Error.Code + " " + j.Error.Message
				}
				return false, fmt.Errorf("job %s ended %s", j.ID, msg)
			}
			if j.State == aks.StateSucceeded && j.FinalReported {
				done++
			}
		}
		return done >= n, nil
	})
	if err != nil {
		return fmt.Errorf("wait for %d jobs to succeed and be reported: %w", n, err)
	}
	return nil
}

// approve clicks Approve on the job's approval message, as the approver.
func (sw *slackWorld) approve(ctx context.Context, jobID string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var msg slacktest.Message
	err := sw.sl.WaitFor(ctx, func() bool {
		for _, m := range sw.sl.Messages(benchChannel) {
			if m.ThreadTS != "" && bytes.Contains(m.Blocks, []byte(`"`+slack.ActionApprove+`"`)) && bytes.Contains(m.Blocks, []byte(`"aksbot_approval_`+jobID+`"`)) {
				msg = m
				return true
			}
		}
		return false
	})
	if err != nil {
		return fmt.Errorf("wait for the approval message of job %s: %w", jobID, err)
	}
	_, err = sw.sl.Click(ctx, slacktest.Click{User: benchApprover, Channel: benchChannel, MessageTS: msg.TS, ThreadTS: msg.ThreadTS,
		ActionID: slack.ActionApprove, BlockID: "aksbot_approval_" + jobID, Value: jobID})
	if err != nil {
		return fmt.Errorf("approve job %s: %w", jobID, err)
	}
	return nil
}

func benchSlack(ctx context.Context, sz sizes, progress io.Writer) (Result, error) {
	scale := sz.slackScale
	res := Result{Setup: fmt.Sprintf("a %s node pool scale run as %s (every interval and Slack's rate limits scaled by %s); Slack limits: chat.postMessage 1/s per channel (burst 3), chat.update 50/min (burst 10), chat.postEphemeral 100/min (burst 20)",
		realSlackOp, scaled(realSlackOp, scale), trim(scale))}

	// One job with an approval, from the slash command to the reported end.
	dir, err := os.MkdirTemp("", "aksbot-bench-slack-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	one, err := startSlackWorld(ctx, dir, 1, 1, scale)
	if err != nil {
		return res, err
	}
	err = func() error {
		defer one.close()
		if err := one.slash(ctx, benchUser, "nodepool scale "+clusterName(0)+" np1 --node-count 4"); err != nil {
			return err
		}
		if err := one.approve(ctx, "1"); err != nil {
			return err
		}
		return one.waitReported(ctx, 1, scaled(realSlackOp, scale)+time.Minute)
	}()
	if err != nil {
		return res, fmt.Errorf("one job: %w", err)
	}
	oneCalls, oneLimited := one.limiter.counts()
	fmt.Fprintf(progress, "bench: one job: %s\n", breakdown(oneCalls))

	// A burst of jobs in one channel, no approvals, each on its own cluster.
	dir2, err := os.MkdirTemp("", "aksbot-bench-slack-burst-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir2)
	n := sz.burstJobs
	many, err := startSlackWorld(ctx, dir2, n, 0, scale)
	if err != nil {
		return res, err
	}
	err = func() error {
		defer many.close()
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if err := many.slash(ctx, benchUser, "nodepool scale "+clusterName(i)+" np1 --node-count 4"); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		select {
		case err := <-errs:
			return err
		default:
		}
		return many.waitReported(ctx, n, scaled(realSlackOp, scale)+3*time.Minute)
	}()
	if err != nil {
		return res, fmt.Errorf("burst of %d jobs: %w", n, err)
	}
	burstCalls, burstLimited := many.limiter.counts()
	fmt.Fprintf(progress, "bench: burst: calls %s; 429s %s\n", breakdown(burstCalls), breakdown(burstLimited))

	res.Metrics = []Metric{
		below("Web API calls for one job (with approval)", float64(sum(oneCalls)), "calls", 10, true),
		info("  chat.postMessage", float64(oneCalls["chat.postMessage"]), ""),
		info("  chat.update", float64(oneCalls["chat.update"]), ""),
		info("  chat.postEphemeral", float64(oneCalls["chat.postEphemeral"]), ""),
		info("429s for one job", float64(sum(oneLimited)), ""),
		info("jobs in the burst, one channel", float64(n), "jobs"),
		info("Web API calls per job in the burst (429s included)", float64(sum(burstCalls))/float64(n), "calls"),
		below("429 answers during the burst", float64(sum(burstLimited)), "", 0, true),
		info("  of chat.postMessage", float64(burstLimited["chat.postMessage"]), ""),
		info("  of chat.update", float64(burstLimited["chat.update"]), ""),
		info("  of chat.postEphemeral", float64(burstLimited["chat.postEphemeral"]), ""),
	}
	return res, nil
}
