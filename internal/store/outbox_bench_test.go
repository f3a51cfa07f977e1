package store

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/aks"
)

// A backlog of 1,000 cards (a Slack outage): what each report pays to read the outbox.
func BenchmarkOutboxBacklog(b *testing.B) {
	s, _ := openTemp(b)
	ctx := context.Background()
	blocks := strings.Repeat("x", 2000)
	for i := range 1000 {
		job := fmt.Sprint(i)
		err := s.UpdateOutbox(ctx, job, func(tx aks.OutboxTx) error {
			id, err := tx.NextID()
			if err != nil {
				return err
			}
			tx.Put(aks.OutboxEntry{ID: id, JobID: job, Body: body(job, blocks)})
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Run("OutboxLen", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.OutboxLen(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("OutboxState", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.OutboxState(ctx, "500"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("OutboxHeads", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.OutboxHeads(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
