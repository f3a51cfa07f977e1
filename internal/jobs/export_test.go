package jobs

import (
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// NewBackoffForTest exposes the busy backoff to the external tests.
func NewBackoffForTest(first, most time.Duration) func() time.Duration {
	b := &backoff{wait: first, most: most}
	return b.next
}

// SlowAfterForTest exposes when a running job is flagged as slow.
func (e *Engine) SlowAfterForTest(job aks.Job) time.Duration { return e.slowAfter(job) }
