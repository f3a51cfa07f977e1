package store

import (
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/aksbot/aksbot/internal/store/storetest"
)

// TestContract runs the store ports' contract on the bbolt file. Fences are ignored here: one
// process holds the file, so nobody else can own what it writes for.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		path := filepath.Join(t.TempDir(), "aksbot.db")
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return storetest.Backend{
			Jobs: s, Audit: s, Claims: s, Cache: s, Watch: s,
			Outbox: s, Schedules: s,
			NewerSchema: func(t *testing.T) error {
				if err := s.DB().Update(func(tx *bbolt.Tx) error {
					return tx.Bucket(bucketMeta).Put(keySchema, []byte("99"))
				}); err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s2, err := Open(path, Options{})
				if err == nil {
					_ = s2.Close()
				}
				return err
			},
		}
	})
}
