package slack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/aksbot/aksbot/internal/aks"
)

// The outbox keeps every message aksbot sends to Slack for a job in the store (aks.OutboxStore)
// until Slack has it, so that a Slack outage or a crash loses no report and posts nothing twice.
// The store keeps, per job, pending entries (an entry's body is the JSON outboxEntry) and a
// state (the JSON jobOutbox: delivered message refs, what was enqueued).
//
// Report turns an event into entries in one store transaction (UpdateOutbox), on any replica;
// the worker (RunOutbox), run by one replica at a time, delivers the first entry of each job
// in ID order, so a job's thread keeps its order and the status card is posted before
// anything that needs its ts.

// Slack message metadata that marks aksbot's posts, so that a post whose answer was lost can
// be found again instead of being sent twice.
const metadataEventType = "aksbot_message"

type entryKind string

const (
	kindPost   entryKind = "post"   // chat.postMessage; its ts is stored under Key
	kindUpdate entryKind = "update" // chat.update of the message stored under Key
)

// outboxEntry is one message to deliver. Its JSON is the stored entry body; "job" comes first,
// which the bbolt store reads without decoding the rest.
type outboxEntry struct {
	ID      uint64          `json:"-"`
	JobID   string          `json:"job"`
	Channel string          `json:"channel"`
	Kind    entryKind       `json:"kind"`
	Key     string          `json:"key"`              // ref name: "parent", "approval", "event.3", "busy.17"
	Thread  bool            `json:"thread,omitempty"` // post: a reply under the job's status card
	Text    string          `json:"text"`
	Blocks  json.RawMessage `json:"blocks"`
	Created time.Time       `json:"created"`
	// InFlight: the worker is sending it or sent it without a definite answer (the process
	// died, or the network failed). Before posting again the worker looks for the post in the
	// channel by its metadata. Only the worker sets it; a newer update may replace an update
	// in flight (the last one wins), never a post.
	InFlight bool `json:"inFlight,omitempty"`
}

// jobOutbox is what the outbox knows about one job.
type jobOutbox struct {
	Refs   map[string]string `json:"refs"`   // ts of delivered messages by key
	Queued map[string]bool   `json:"queued"` // post keys enqueued (delivered or not): each is posted once
	Events map[int64]bool    `json:"events"` // event seqs already turned into entries
	// Pending update (or coalescable post) of a key: a newer one replaces it.
	Pending map[string]uint64 `json:"pending,omitempty"`
	// Shown is a hash of what Slack shows under each key, so that an update that would change
	// nothing is not sent (a progress refresh where only the time moved).
	Shown map[string]string `json:"shown,omitempty"`
}

// contentHash identifies what an entry shows.
func contentHash(e *outboxEntry) string {
	h := sha256.New()
	h.Write([]byte(e.Text))
	h.Write([]byte{0})
	h.Write(e.Blocks)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func newJobOutbox(refs map[string]string) *jobOutbox {
	j := &jobOutbox{Refs: map[string]string{}, Queued: map[string]bool{}, Events: map[int64]bool{}, Pending: map[string]uint64{}}
	for k, v := range refs {
		if v != "" {
			j.Refs[k] = v
			j.Queued[k] = true
		}
	}
	return j
}

// decodeState decodes a job's stored outbox state; nil when it has none.
func decodeState(jobID string, data []byte) (*jobOutbox, error) {
	if data == nil {
		return nil, nil
	}
	j := newJobOutbox(nil)
	if err := json.Unmarshal(data, j); err != nil {
		return nil, fmt.Errorf("decode slack outbox state of job %s: %w", jobID, err)
	}
	if j.Refs == nil {
		j.Refs = map[string]string{}
	}
	if j.Queued == nil {
		j.Queued = map[string]bool{}
	}
	if j.Events == nil {
		j.Events = map[int64]bool{}
	}
	if j.Pending == nil {
		j.Pending = map[string]uint64{}
	}
	return j, nil
}

func decodeEntry(se aks.OutboxEntry) (*outboxEntry, error) {
	e := &outboxEntry{}
	if err := json.Unmarshal(se.Body, e); err != nil {
		return nil, fmt.Errorf("decode slack outbox entry %d of job %s: %w", se.ID, se.JobID, err)
	}
	e.ID, e.JobID = se.ID, se.JobID
	return e, nil
}

func encodeEntry(e *outboxEntry) (aks.OutboxEntry, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return aks.OutboxEntry{}, fmt.Errorf("encode slack outbox entry %d of job %s: %w", e.ID, e.JobID, err)
	}
	return aks.OutboxEntry{ID: e.ID, JobID: e.JobID, Body: data}, nil
}

// findEntry returns the job's pending entry id, nil when it is gone.
func findEntry(tx aks.OutboxTx, id uint64) (*outboxEntry, error) {
	if id == 0 {
		return nil, nil
	}
	for _, se := range tx.Entries() {
		if se.ID == id {
			return decodeEntry(se)
		}
	}
	return nil, nil
}

// outboxLimits are the pacing and retry settings of the worker. Tests shorten them.
type outboxLimits struct {
	postInterval    time.Duration // per channel, between the end of a post and the next one
	updateInterval  time.Duration // per workspace, between chat.update calls (Tier 3: ~50/min)
	messageInterval time.Duration // between updates of one message
	minBackoff      time.Duration // first retry after a transient failure
	maxBackoff      time.Duration // retries go on forever, at most this far apart
	callTimeout     time.Duration // one Web API call
	lookupPages     int           // pages of history (200 messages each) searched for a lost post
	// rescan: the longest the worker waits before it reads the store again; entries stored by
	// other replicas do not wake it.
	rescan time.Duration
}

func defaultOutboxLimits() outboxLimits {
	return outboxLimits{
		postInterval:    time.Second,
		updateInterval:  1200 * time.Millisecond,
		messageInterval: 3 * time.Second,
		minBackoff:      time.Second,
		maxBackoff:      time.Minute,
		callTimeout:     15 * time.Second,
		lookupPages:     5,
		rescan:          time.Second,
	}
}

// outbox is the durable queue and its delivery state.
type outbox struct {
	store   aks.OutboxStore
	api     *slack.Client // without slack-go's own retries: the worker retries, never in a call
	log     *slog.Logger
	metrics Metrics
	mirror  RefStore // also told each delivered post's ts; nil = none
	limits  outboxLimits

	wake    chan struct{}           // this replica stored a new entry (others' are found by the rescan)
	running chan struct{}           // holds a token while a worker runs
	decoded map[uint64]decodedEntry // the worker's heads as last decoded (pendingHeads)

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when this replica changes the queue, for Flush

	// The depth gauge is read from the store after this replica's writes and at each rescan
	// (see publishDepth).
	pubMu      sync.Mutex
	pubCond    *sync.Cond // on pubMu: a read was published
	publishing bool
	pubAsked   uint64 // calls so far
	pubDone    uint64 // calls covered by the reads published so far
}

func newOutbox(st aks.OutboxStore, api *slack.Client, log *slog.Logger, m Metrics) *outbox {
	if m == nil {
		m = noMetrics{}
	}
	o := &outbox{
		store: st, api: api, log: log, metrics: m, limits: defaultOutboxLimits(),
		wake: make(chan struct{}, 1), running: make(chan struct{}, 1), changed: make(chan struct{}),
	}
	o.pubCond = sync.NewCond(&o.pubMu)
	return o
}

// queueChanged wakes Flush after this replica changed the queue.
func (o *outbox) queueChanged() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.changed
}

func (o *outbox) signalChanged() {
	o.mu.Lock()
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
}

// publishDepth reads the queue length from the store and tells the gauge, and returns once a
// read that began after the call has been published. Concurrent callers share reads (one at a
// time, each covering every call made before it began), so that a burst of reports costs a
// few reads and the gauge is never set from a read older than one already published.
func (o *outbox) publishDepth(ctx context.Context) {
	o.pubMu.Lock()
	defer o.pubMu.Unlock()
	o.pubAsked++
	mine := o.pubAsked
	for o.pubDone < mine {
		if o.publishing {
			o.pubCond.Wait()
			continue
		}
		o.publishing = true
		covers := o.pubAsked
		o.pubMu.Unlock()
		o.readDepth(ctx)
		o.pubMu.Lock()
		o.publishing = false
		o.pubDone = covers
		o.pubCond.Broadcast()
	}
}

func (o *outbox) readDepth(ctx context.Context) {
	// The read serves other callers too: it must not end with this caller's context.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.limits.callTimeout)
	defer cancel()
	n, err := o.store.OutboxLen(ctx)
	if err != nil {
		o.log.Debug("slack outbox depth unknown", "err", err)
		return
	}
	o.metrics.OutboxDepth(n)
}

// enqueue runs plan on the job's state and stores the entries it returns, in one store
// transaction, which makes concurrent reports of a job (on any replica) safe without a lock.
// seed is the job's refs from before the outbox existed (used when it has no state yet).
// Entries that coalesce replace the job's pending entry of the same key unless that one is a
// post in flight. plan may run more than once (optimistic stores retry): it must build new
// entries from the state it is given each time.
func (o *outbox) enqueue(ctx context.Context, jobID string, seed map[string]string, plan func(j *jobOutbox) []*outboxEntry) error {
	err := o.store.UpdateOutbox(ctx, jobID, func(tx aks.OutboxTx) error {
		j, err := decodeState(jobID, tx.State())
		if err != nil {
			return err
		}
		if j == nil {
			j = newJobOutbox(seed)
		}
		for _, e := range plan(j) {
			if coalesces(e) {
				old, err := findEntry(tx, j.Pending[pendingKey(e)])
				if err != nil {
					return err
				}
				if old != nil && !(old.InFlight && old.Kind == kindPost) {
					tx.Delete(old.ID)
				}
			}
			id, err := tx.NextID()
			if err != nil {
				return fmt.Errorf("number slack outbox entry: %w", err)
			}
			e.ID = id
			if e.Kind == kindPost && strings.HasPrefix(e.Key, refBusy) {
				e.Key = refBusy + fmt.Sprint(id) // unique, so that metadata finds this very post
			}
			if coalesces(e) {
				j.Pending[pendingKey(e)] = id
			}
			se, err := encodeEntry(e)
			if err != nil {
				return err
			}
			tx.Put(se)
		}
		state, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("encode slack outbox state of job %s: %w", jobID, err)
		}
		tx.SetState(state)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store slack messages of job %s in the outbox: %w", jobID, err)
	}
	o.publishDepth(ctx) // before Flush wakes, so that the gauge is current when it returns
	o.signalChanged()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// alreadyShown reports whether Slack already shows e (an update) or the update of its message
// waiting to go out already says the same, so that storing e would change nothing. It works on
// what OutboxState returned: a progress refresh of a job whose card did not change costs no
// write to the store.
func alreadyShown(j *jobOutbox, entries []aks.OutboxEntry, e *outboxEntry) (bool, error) {
	if j == nil {
		return false, nil
	}
	want := contentHash(e)
	if id := j.Pending[pendingKey(e)]; id != 0 {
		for _, se := range entries {
			if se.ID != id {
				continue
			}
			pending, err := decodeEntry(se)
			if err != nil {
				return false, err
			}
			return contentHash(pending) == want, nil
		}
	}
	return j.Shown[e.Key] == want, nil
}

// coalesces reports whether a newer entry replaces a pending one: updates (only the latest
// state of a message matters) and "busy" notes (a retry loop must not flood the thread).
func coalesces(e *outboxEntry) bool {
	return e.Kind == kindUpdate || strings.HasPrefix(e.Key, refBusy)
}

func pendingKey(e *outboxEntry) string {
	if e.Kind == kindPost {
		return refBusy
	}
	return e.Key
}

// pendingHeads returns, for each job with pending entries, its first entry, in ID order, and
// the job states they need. Another replica may have written an entry, and a former deliverer
// may have marked it: an entry is decoded again unless its stored body is the very one the
// cache decoded (a backlog of a thousand jobs would decode a thousand entries at each scan).
func (o *outbox) pendingHeads(ctx context.Context) ([]*outboxEntry, map[string]*jobOutbox, error) {
	stored, err := o.store.OutboxHeads(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read slack outbox: %w", err)
	}
	heads := make([]*outboxEntry, 0, len(stored))
	states := make(map[string]*jobOutbox, len(stored))
	cache := make(map[uint64]decodedEntry, len(stored))
	for _, h := range stored {
		c, ok := o.decoded[h.Entry.ID]
		if !ok || c.e.JobID != h.Entry.JobID || !bytes.Equal(c.body, h.Entry.Body) {
			e, err := decodeEntry(h.Entry)
			if err != nil {
				return nil, nil, err
			}
			c = decodedEntry{body: h.Entry.Body, e: e}
		}
		cache[h.Entry.ID] = c
		j, err := decodeState(h.Entry.JobID, h.State)
		if err != nil {
			return nil, nil, err
		}
		if j == nil {
			j = newJobOutbox(nil)
		}
		e := *c.e // the worker marks its copy; the cached one stays as decoded
		heads = append(heads, &e)
		states[e.JobID] = j
	}
	o.decoded = cache
	return heads, states, nil
}

// decodedEntry is an entry as decoded from body.
type decodedEntry struct {
	body []byte
	e    *outboxEntry
}

// mark stores the entry's in-flight mark. It is the worker's write before each call to Slack:
// with the leader's fence in ctx, a deposed worker learns here (aks.ErrFenced) that it must not
// send. It reports false when the entry is gone (a newer update replaced it).
func (o *outbox) mark(ctx context.Context, e *outboxEntry, on bool) (bool, error) {
	found := false
	err := o.store.UpdateOutbox(ctx, e.JobID, func(tx aks.OutboxTx) error {
		cur, err := findEntry(tx, e.ID)
		if err != nil || cur == nil {
			found = false
			return err
		}
		found = true
		cur.InFlight = on
		se, err := encodeEntry(cur)
		if err != nil {
			return err
		}
		tx.Put(se)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("mark slack outbox entry %d of job %s: %w", e.ID, e.JobID, err)
	}
	if found {
		e.InFlight = on
	}
	return found, nil
}

// done removes a delivered (or dropped) entry and, for a post, stores its ts, in one
// transaction: after it, the message is never sent again. It records what already happened,
// so it is not cut short by the end of ctx; the fence in ctx still applies.
func (o *outbox) done(ctx context.Context, e *outboxEntry, ts string, shown bool) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.limits.callTimeout)
	defer cancel()
	err := o.store.UpdateOutbox(ctx, e.JobID, func(tx aks.OutboxTx) error {
		tx.Delete(e.ID)
		if ts == "" && !shown {
			return nil
		}
		j, err := decodeState(e.JobID, tx.State())
		if err != nil {
			return err
		}
		if j == nil {
			j = newJobOutbox(nil)
		}
		if ts != "" {
			j.Refs[e.Key] = ts
		}
		if j.Shown == nil {
			j.Shown = map[string]string{}
		}
		if shown {
			j.Shown[e.Key] = contentHash(e)
		} else {
			delete(j.Shown, e.Key)
		}
		state, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("encode slack outbox state of job %s: %w", e.JobID, err)
		}
		tx.SetState(state)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record delivery of slack outbox entry %d of job %s: %w", e.ID, e.JobID, err)
	}
	o.publishDepth(ctx) // before Flush wakes, so that the gauge is current when it returns
	o.signalChanged()
	return nil
}

// errWorkerRunning is returned by RunOutbox when a worker already runs.
var errWorkerRunning = errors.New("slack outbox worker already running")

// newOutboxFor opens the outbox for a Bot. Its Slack client has no retries of its own: the
// worker sees every 429 and failure, and paces and retries itself, so no call blocks it.
func newOutboxFor(cfg Config, refs RefStore, log *slog.Logger) *outbox {
	st := cfg.Outbox
	if st == nil {
		st, _ = refs.(aks.OutboxStore)
	}
	if st == nil {
		// Only tests that never report build a Bot like this; Report then fails loudly.
		return nil
	}
	var opts []slack.Option
	if cfg.APIURL != "" {
		u := cfg.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, slack.OptionAPIURL(u))
	}
	o := newOutbox(st, slack.New(cfg.BotToken, opts...), log.With("component", "slack-outbox"), cfg.Metrics)
	o.mirror = refs
	return o
}

// RunOutbox delivers stored messages to Slack until ctx is done, then returns nil. Messages
// stored by any replica are delivered, and one worker must run at a time over all replicas:
// run it only while this replica holds the leadership, with ctx carrying the lease's fence
// (aks.WithFence) and ending when the lease does. Every write the worker makes (before each
// call to Slack, and after it) carries that fence: when the store refuses one, RunOutbox
// returns at once, without sending anything more, an error matching aks.ErrFenced; the caller
// campaigns again. It also returns an error at once if a worker already runs for this Bot.
// Run does not start it.
func (b *Bot) RunOutbox(ctx context.Context) error {
	if b.out == nil {
		<-ctx.Done()
		return nil
	}
	return b.out.run(ctx)
}

// OutboxDepth returns how many messages are stored, by any replica, and not yet delivered to
// Slack.
func (b *Bot) OutboxDepth(ctx context.Context) (int, error) {
	if b.out == nil {
		return 0, nil
	}
	n, err := b.out.store.OutboxLen(ctx)
	if err != nil {
		return 0, fmt.Errorf("count slack messages not delivered: %w", err)
	}
	return n, nil
}

// flushPoll is how often Flush reads the store when nothing changed on this replica: another
// replica may be delivering.
const flushPoll = 100 * time.Millisecond

// Flush waits until the outbox is empty (every stored message delivered or dropped, whichever
// replica stored it), or returns ctx's error. It needs a worker running on some replica.
func (b *Bot) Flush(ctx context.Context) error {
	if b.out == nil {
		return nil
	}
	t := time.NewTicker(flushPoll)
	defer t.Stop()
	for {
		changed := b.out.queueChanged()
		n, err := b.OutboxDepth(ctx)
		if err == nil && n == 0 {
			b.out.publishDepth(ctx) // the last delivery may have been another replica's
			return nil
		}
		if err != nil && ctx.Err() == nil {
			b.log.Debug("slack outbox unreadable while flushing; retrying", "err", err)
		}
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d slack messages to be delivered: %w", n, ctx.Err())
		}
	}
}
