package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/config"
	"github.com/aksbot/aksbot/internal/etcdstore"
	"github.com/aksbot/aksbot/internal/etcdstore/etcdtest"
)

// etcd only ever holds jobs of older aksbot versions through `aksbot store migrate`, which opens
// the bbolt file (migrating it) before copying: the jobs reach etcd in the default subscription,
// under the new lane key.
func TestStoreMigrateNamesTheDefaultSubscription(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const prodID = "22222222-2222-2222-2222-222222222222"
	dir := t.TempDir()
	path := filepath.Join(dir, "aksbot.db")
	// A data file of schema 2, before targets named their subscription.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	job := aks.Job{ID: "1", Version: 1, State: aks.StateAwaitingApproval, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC(),
		Op: aks.Operation{Kind: aks.OpClusterStop, Target: aks.Target{ResourceGroup: "rg-aks", Cluster: "demo"}}}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{"meta", "jobs", "active", "events", "refs", "audit"} {
			if _, err := tx.CreateBucket([]byte(b)); err != nil {
				return err
			}
		}
		data, err := json.Marshal(job)
		if err != nil {
			return err
		}
		key := binary.BigEndian.AppendUint64(nil, 1)
		if err := tx.Bucket([]byte("jobs")).Put(key, data); err != nil {
			return err
		}
		if err := tx.Bucket([]byte("active")).Put(key, []byte(string(job.State)+"\x00rg-aks/demo")); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("2"))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	etcd := etcdtest.Start(t)
	cfg := filepath.Join(dir, "aksbot.yaml")
	writeConfig(t, cfg, "azure:\n  subscriptions: {prod: "+prodID+"}\n")
	env := map[string]string{config.EnvEtcdEndpoints: strings.Join(etcd.Endpoints(), ","), "AKSBOT_CONFIG": cfg}
	if out, errOut, code := runCLI(t, env, "store", "migrate", "--from", path); code != exitOK {
		t.Fatalf("migrate: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: etcd.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	dst, err := etcdstore.Open(ctx, cli, "/aksbot/", etcdstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	key := prodID + "/rg-aks/demo"
	got, err := dst.Jobs(ctx, aks.Filter{States: []aks.JobState{aks.StateAwaitingApproval}, ClusterKey: key})
	if err != nil || len(got) != 1 || got[0].Op.Target.Subscription != prodID {
		t.Fatalf("jobs of lane %s in etcd: %+v, %v; want job 1 in the default subscription", key, got, err)
	}
}
