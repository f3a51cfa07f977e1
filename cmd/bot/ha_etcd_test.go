package main

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/aksbot/aksbot/internal/etcdstore"
)

// The multi-replica suite's access to the etcd store the replicas share.

// openReplicaStore opens the store the replicas share, to check it after a run; the function
// it returns closes it.
func openReplicaStore(ctx context.Context, endpoints []string, prefix string) (replicaStore, func(), error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, nil, fmt.Errorf("connect to etcd: %w", err)
	}
	st, err := etcdstore.Open(ctx, cli, prefix, etcdstore.Options{})
	if err != nil {
		cli.Close()
		return nil, nil, fmt.Errorf("open the etcd store: %w", err)
	}
	return st, func() { cli.Close() }, nil
}
