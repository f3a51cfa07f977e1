package jobs

import "time"

// NewBackoffForTest exposes the busy backoff to the external tests.
func NewBackoffForTest(first, most time.Duration) func() time.Duration {
	b := &backoff{wait: first, most: most}
	return b.next
}
