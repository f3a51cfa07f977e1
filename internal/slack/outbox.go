package slack

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	bolt "go.etcd.io/bbolt"
)

// The outbox keeps every message aksbot sends to Slack for a job in the bbolt file until Slack
// has it, so that a Slack outage or a crash loses no report and posts nothing twice.
//
// Buckets (in the same file as the job store, under a name of its own):
//
//	slack_outbox/queue  8-byte big-endian entry ID -> JSON outboxEntry (pending deliveries, in order)
//	slack_outbox/jobs   job ID -> JSON jobOutbox (delivered message refs, what was enqueued)
//
// Report turns an event into entries in one transaction; the worker (RunOutbox) delivers the
// first entry of each job in ID order, so a job's thread keeps its order and the status card
// is posted before anything that needs its ts.
var (
	bucketOutbox = []byte("slack_outbox")
	bucketQueue  = []byte("queue")
	bucketJobs   = []byte("jobs")
)

// Slack message metadata that marks aksbot's posts, so that a post whose answer was lost can
// be found again instead of being sent twice.
const metadataEventType = "aksbot_message"

type entryKind string

const (
	kindPost   entryKind = "post"   // chat.postMessage; its ts is stored under Key
	kindUpdate entryKind = "update" // chat.update of the message stored under Key
)

// outboxEntry is one message to deliver.
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
	// InFlight: a post was sent without a definite answer (the process died, or the network
	// failed). Before posting again the worker looks for it in the channel by its metadata.
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

// outboxLimits are the pacing and retry settings of the worker. Tests shorten them.
type outboxLimits struct {
	postInterval    time.Duration // per channel, between the end of a post and the next one
	updateInterval  time.Duration // per workspace, between chat.update calls (Tier 3: ~50/min)
	messageInterval time.Duration // between updates of one message
	minBackoff      time.Duration // first retry after a transient failure
	maxBackoff      time.Duration // retries go on forever, at most this far apart
	callTimeout     time.Duration // one Web API call
	lookupPages     int           // pages of history (200 messages each) searched for a lost post
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
	}
}

// outbox is the durable queue and its delivery state.
type outbox struct {
	db      *bolt.DB
	api     *slack.Client // without slack-go's own retries: the worker retries, never in a call
	log     *slog.Logger
	metrics Metrics
	mirror  RefStore // also told each delivered post's ts; nil = none
	limits  outboxLimits

	wake chan struct{} // a new entry was stored
	// decoded is the worker's cache of queue entries by ID. Stored entries never change
	// except for InFlight, which only the worker sets (on the cached entry too).
	decoded map[uint64]*outboxEntry
	running chan struct{} // holds a token while a worker runs

	// writeMu spans a queue-changing transaction and the publication of its depth, so that
	// depths are published in commit order (bbolt serialises writers anyway).
	writeMu sync.Mutex
	mu      sync.Mutex
	changed chan struct{} // closed and replaced when the queue changes, for Flush
	depth   int
}

func newOutbox(db *bolt.DB, api *slack.Client, log *slog.Logger, m Metrics) (*outbox, error) {
	if m == nil {
		m = noMetrics{}
	}
	o := &outbox{
		db: db, api: api, log: log, metrics: m, limits: defaultOutboxLimits(),
		wake: make(chan struct{}, 1), decoded: map[uint64]*outboxEntry{}, running: make(chan struct{}, 1), changed: make(chan struct{}),
	}
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketOutbox)
		if err != nil {
			return err
		}
		if _, err := root.CreateBucketIfNotExists(bucketQueue); err != nil {
			return err
		}
		_, err = root.CreateBucketIfNotExists(bucketJobs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create slack outbox buckets: %w", err)
	}
	var n int
	if err := db.View(func(tx *bolt.Tx) error { n = count(queueOf(tx)); return nil }); err != nil {
		return nil, fmt.Errorf("read slack outbox: %w", err)
	}
	o.setDepth(n)
	return o, nil
}

func queueOf(tx *bolt.Tx) *bolt.Bucket { return tx.Bucket(bucketOutbox).Bucket(bucketQueue) }
func jobsOf(tx *bolt.Tx) *bolt.Bucket  { return tx.Bucket(bucketOutbox).Bucket(bucketJobs) }

func entryKey(id uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, id)
	return k
}

// count returns the number of entries in the queue, walking it: done once at open; afterwards
// writers keep the depth as they add and remove entries.
func count(q *bolt.Bucket) int {
	n := 0
	c := q.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

// setDepth publishes the queue length after a committed change and wakes Flush. The gauge
// is told first, so that it is current once Flush returns.
func (o *outbox) setDepth(n int) {
	o.metrics.OutboxDepth(n)
	o.mu.Lock()
	o.depth = n
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
}

func (o *outbox) queueDepth() (int, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.depth, o.changed
}

func getJob(tx *bolt.Tx, jobID string) (*jobOutbox, error) {
	data := jobsOf(tx).Get([]byte(jobID))
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

func putJob(tx *bolt.Tx, jobID string, j *jobOutbox) error {
	data, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("encode slack outbox state of job %s: %w", jobID, err)
	}
	return jobsOf(tx).Put([]byte(jobID), data)
}

func putEntry(q *bolt.Bucket, e *outboxEntry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode slack outbox entry: %w", err)
	}
	return q.Put(entryKey(e.ID), data)
}

func getEntry(q *bolt.Bucket, id uint64) (*outboxEntry, error) {
	data := q.Get(entryKey(id))
	if data == nil {
		return nil, nil
	}
	e := &outboxEntry{ID: id}
	if err := json.Unmarshal(data, e); err != nil {
		return nil, fmt.Errorf("decode slack outbox entry %d: %w", id, err)
	}
	return e, nil
}

// hasJob reports whether the outbox has state for the job.
func (o *outbox) hasJob(jobID string) (bool, error) {
	var ok bool
	err := o.db.View(func(tx *bolt.Tx) error {
		ok = jobsOf(tx).Get([]byte(jobID)) != nil
		return nil
	})
	return ok, err
}

// enqueue runs plan on the job's state and stores the entries it returns, in one transaction.
// seed is the job's refs from before the outbox existed (used when it has no state yet).
// Entries marked coalesce replace the job's pending entry of the same key unless that one is
// in flight.
func (o *outbox) enqueue(jobID string, seed map[string]string, plan func(j *jobOutbox) []*outboxEntry) error {
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	depth, _ := o.queueDepth() // only writers under writeMu change it
	err := o.db.Update(func(tx *bolt.Tx) error {
		changed := 0
		j, err := getJob(tx, jobID)
		if err != nil {
			return err
		}
		if j == nil {
			j = newJobOutbox(seed)
		}
		entries := plan(j)
		q := queueOf(tx)
		for _, e := range entries {
			if coalesces(e) {
				if old, err := getEntry(q, j.Pending[pendingKey(e)]); err != nil {
					return err
				} else if old != nil && !old.InFlight {
					if err := q.Delete(entryKey(old.ID)); err != nil {
						return fmt.Errorf("drop superseded slack outbox entry: %w", err)
					}
					changed--
				}
			}
			id, err := q.NextSequence()
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
			if err := putEntry(q, e); err != nil {
				return err
			}
			changed++
		}
		if err := putJob(tx, jobID, j); err != nil {
			return err
		}
		depth += changed
		return nil
	})
	if err != nil {
		return fmt.Errorf("store slack messages of job %s in the outbox: %w", jobID, err)
	}
	o.setDepth(depth)
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// alreadyShown reports whether Slack already shows e (an update) and no other update of its
// message is pending, so that storing e would change nothing. It only reads: a progress refresh
// of a job whose card did not change costs no write to the data file.
func (o *outbox) alreadyShown(e *outboxEntry) (bool, error) {
	shown := false
	err := o.db.View(func(tx *bolt.Tx) error {
		j, err := getJob(tx, e.JobID)
		if err != nil || j == nil {
			return err
		}
		pending, err := getEntry(queueOf(tx), j.Pending[pendingKey(e)])
		if err != nil {
			return err
		}
		want := contentHash(e)
		if pending != nil {
			// The update waiting to go out already says the same.
			shown = !pending.InFlight && contentHash(pending) == want
			return nil
		}
		shown = j.Shown[e.Key] == want
		return nil
	})
	return shown, err
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

// pendingHead returns, for each job with pending entries, its first entry, in ID order, and
// the job states they need.
func (o *outbox) pendingHeads() ([]*outboxEntry, map[string]*jobOutbox, error) {
	var heads []*outboxEntry
	states := map[string]*jobOutbox{}
	present := make(map[uint64]bool, len(o.decoded))
	err := o.db.View(func(tx *bolt.Tx) error {
		c := queueOf(tx).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			id := binary.BigEndian.Uint64(k)
			present[id] = true
			e := o.decoded[id]
			if e == nil {
				e = &outboxEntry{}
				if err := json.Unmarshal(v, e); err != nil {
					return fmt.Errorf("decode slack outbox entry %d: %w", id, err)
				}
				e.ID = id
				o.decoded[id] = e
			}
			if _, seen := states[e.JobID]; seen {
				continue
			}
			j, err := getJob(tx, e.JobID)
			if err != nil {
				return err
			}
			if j == nil {
				j = newJobOutbox(nil)
			}
			states[e.JobID] = j
			heads = append(heads, e)
		}
		return nil
	})
	for id := range o.decoded {
		if !present[id] {
			delete(o.decoded, id)
		}
	}
	return heads, states, err
}

// setInFlight stores the entry's in-flight mark before or after a call.
func (o *outbox) setInFlight(e *outboxEntry, on bool) error {
	err := o.db.Update(func(tx *bolt.Tx) error {
		q := queueOf(tx)
		cur, err := getEntry(q, e.ID)
		if err != nil || cur == nil {
			return err
		}
		cur.InFlight = on
		return putEntry(q, cur)
	})
	if err != nil {
		return fmt.Errorf("mark slack outbox entry %d of job %s: %w", e.ID, e.JobID, err)
	}
	e.InFlight = on
	return nil
}

// done removes a delivered (or dropped) entry and, for a post, stores its ts, in one
// transaction: after it, the message is never sent again.
func (o *outbox) done(e *outboxEntry, ts string, shown bool) error {
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	depth, _ := o.queueDepth() // only writers under writeMu change it
	err := o.db.Update(func(tx *bolt.Tx) error {
		q := queueOf(tx)
		if q.Get(entryKey(e.ID)) != nil {
			if err := q.Delete(entryKey(e.ID)); err != nil {
				return err
			}
			depth--
		}
		if ts != "" || shown {
			j, err := getJob(tx, e.JobID)
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
			if err := putJob(tx, e.JobID, j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record delivery of slack outbox entry %d of job %s: %w", e.ID, e.JobID, err)
	}
	o.setDepth(depth)
	return nil
}

// errWorkerRunning is returned by RunOutbox when a worker already runs.
var errWorkerRunning = errors.New("slack outbox worker already running")

// newOutboxFor opens the outbox for a Bot. Its Slack client has no retries of its own: the
// worker sees every 429 and failure, and paces and retries itself, so no call blocks it.
func newOutboxFor(cfg Config, refs RefStore, log *slog.Logger) (*outbox, error) {
	db := cfg.Outbox
	if db == nil {
		if d, ok := refs.(interface{ DB() *bolt.DB }); ok {
			db = d.DB()
		}
	}
	if db == nil {
		// Only tests that never report build a Bot like this; Report then fails loudly.
		return nil, nil
	}
	var opts []slack.Option
	if cfg.APIURL != "" {
		u := cfg.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, slack.OptionAPIURL(u))
	}
	o, err := newOutbox(db, slack.New(cfg.BotToken, opts...), log.With("component", "slack-outbox"), cfg.Metrics)
	if err != nil {
		return nil, err
	}
	o.mirror = refs
	return o, nil
}

// RunOutbox delivers stored messages to Slack until ctx is done, then returns nil. Run starts
// it; call it yourself only to report without socket mode. It returns an error at once if a
// worker already runs for this Bot.
func (b *Bot) RunOutbox(ctx context.Context) error {
	if b.out == nil {
		<-ctx.Done()
		return nil
	}
	return b.out.run(ctx)
}

// OutboxDepth returns how many messages are stored and not yet delivered to Slack.
func (b *Bot) OutboxDepth() int {
	if b.out == nil {
		return 0
	}
	n, _ := b.out.queueDepth()
	return n
}

// Flush waits until the outbox is empty (every stored message delivered or dropped), or
// returns ctx's error. It needs a running worker.
func (b *Bot) Flush(ctx context.Context) error {
	if b.out == nil {
		return nil
	}
	for {
		n, changed := b.out.queueDepth()
		if n == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d slack messages to be delivered: %w", n, ctx.Err())
		}
	}
}
