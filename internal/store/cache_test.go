package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestCachePutGetExpire(t *testing.T) {
	ctx := context.Background()
	st, err := Open(filepath.Join(t.TempDir(), "a.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, ok, err := st.CacheGet(ctx, "k"); ok || err != nil {
		t.Fatalf("empty cache: ok=%v err=%v", ok, err)
	}
	if err := st.CachePut(ctx, "k", []byte("v1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := st.CachePut(ctx, "gone", []byte("x"), time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	if v, ok, err := st.CacheGet(ctx, "k"); !ok || err != nil || string(v) != "v1" {
		t.Fatalf("get k = %q %v %v", v, ok, err)
	}
	if _, ok, _ := st.CacheGet(ctx, "gone"); ok {
		t.Fatal("expired entry returned")
	}
	if err := st.CachePut(ctx, "k", []byte("x"), 0); err == nil {
		t.Fatal("ttl 0 accepted")
	}
}
