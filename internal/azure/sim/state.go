package sim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
	bolt "go.etcd.io/bbolt"
)

// Buckets holding the simulated cloud's state. The "sim." prefix keeps them apart from the
// bot's own buckets when both share one data file.
var (
	bucketClusters   = []byte("sim.clusters")
	bucketOperations = []byte("sim.operations")
)

// Operation statuses as ARM reports them on the operation status endpoint.
const (
	statusInProgress = "InProgress"
	statusSucceeded  = "Succeeded"
	statusFailed     = "Failed"
	statusCanceled   = "Canceled"
)

// opKind says what an operation does to its resource when it finishes.
type opKind string

const (
	opCreate    opKind = "create"
	opUpdate    opKind = "update"
	opDelete    opKind = "delete"
	opStart     opKind = "start"
	opStop      opKind = "stop"
	opNodeImage opKind = "nodeImage"
	opAbort     opKind = "abort"
	opExternal  opKind = "external" // started outside the bot (StartExternal)
)

// clusterRec is a managed cluster as stored. Cluster holds the ARM resource without its
// agentPoolProfiles: the pools live in Pools, and the profiles are rendered from them so the
// two views can never disagree.
type clusterRec struct {
	Sub      string                              `json:"sub"`
	RG       string                              `json:"rg"`
	Name     string                              `json:"name"`
	Location string                              `json:"location"`
	Cluster  *armcontainerservice.ManagedCluster `json:"cluster"`
	Pools    []*armcontainerservice.AgentPool    `json:"pools"`
	// ActiveOp is the running operation on the cluster or one of its pools: AKS runs one at a time.
	ActiveOp string `json:"activeOp,omitempty"`
}

func (c *clusterRec) key() string { return clusterKey(c.Sub, c.RG, c.Name) }

func clusterKey(sub, rg, name string) string {
	return strings.ToLower(sub) + "/" + strings.ToLower(rg) + "/" + strings.ToLower(name)
}

// id is the cluster's ARM id, with "resourcegroups" in lower case as Azure returns it.
func (c *clusterRec) id() string {
	return fmt.Sprintf("/subscriptions/%s/resourcegroups/%s/providers/Microsoft.ContainerService/managedClusters/%s", c.Sub, c.RG, c.Name)
}

func (c *clusterRec) pool(name string) (int, *armcontainerservice.AgentPool) {
	for i, p := range c.Pools {
		if strings.EqualFold(deref(p.Name), name) {
			return i, p
		}
	}
	return -1, nil
}

func (c *clusterRec) props() *armcontainerservice.ManagedClusterProperties {
	if c.Cluster.Properties == nil {
		c.Cluster.Properties = &armcontainerservice.ManagedClusterProperties{}
	}
	return c.Cluster.Properties
}

func (c *clusterRec) stopped() bool {
	p := c.props()
	return p.PowerState != nil && p.PowerState.Code != nil && *p.PowerState.Code == armcontainerservice.CodeStopped
}

// opRec is one asynchronous operation. It advances with the clock: it is finished lazily by
// the first request that sees End has passed, so nothing runs in the background and a restart
// continues where it was.
type opRec struct {
	ID         string    `json:"id"`
	Sub        string    `json:"sub"`
	Location   string    `json:"location"`
	ClusterKey string    `json:"clusterKey"`
	Pool       string    `json:"pool,omitempty"` // the pool's name for pool operations
	Path       string    `json:"path"`           // request path that started it (fault matching)
	Kind       opKind    `json:"kind"`
	State      string    `json:"state"` // provisioningState shown while it runs: Creating, Scaling, ...
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Status     string    `json:"status"`
	Error      *apiError `json:"error,omitempty"`
	// Fail is an injected failure reported when the operation ends.
	Fail *apiError `json:"fail,omitempty"`
}

func (o *opRec) statusURLPath() string {
	return fmt.Sprintf("/subscriptions/%s/providers/Microsoft.ContainerService/locations/%s/operations/%s", o.Sub, o.Location, o.ID)
}

func (o *opRec) resultURLPath() string {
	return fmt.Sprintf("/subscriptions/%s/providers/Microsoft.ContainerService/locations/%s/operationresults/%s", o.Sub, o.Location, o.ID)
}

func ensureBuckets(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketClusters, bucketOperations} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	return nil
}

func getJSON(tx *bolt.Tx, bucket []byte, key string, v any) (bool, error) {
	raw := tx.Bucket(bucket).Get([]byte(key))
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("decode %s/%s: %w", bucket, key, err)
	}
	return true, nil
}

func putJSON(tx *bolt.Tx, bucket []byte, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", bucket, key, err)
	}
	if err := tx.Bucket(bucket).Put([]byte(key), raw); err != nil {
		return fmt.Errorf("store %s/%s: %w", bucket, key, err)
	}
	return nil
}

func loadCluster(tx *bolt.Tx, key string) (*clusterRec, error) {
	var c clusterRec
	ok, err := getJSON(tx, bucketClusters, key, &c)
	if err != nil || !ok {
		return nil, err
	}
	return &c, nil
}

func saveCluster(tx *bolt.Tx, c *clusterRec) error { return putJSON(tx, bucketClusters, c.key(), c) }

func deleteCluster(tx *bolt.Tx, key string) error {
	if err := tx.Bucket(bucketClusters).Delete([]byte(key)); err != nil {
		return fmt.Errorf("delete cluster %s: %w", key, err)
	}
	return nil
}

// listClusters returns the clusters whose key starts with prefix, in key order.
func listClusters(tx *bolt.Tx, prefix string) ([]*clusterRec, error) {
	var out []*clusterRec
	cur := tx.Bucket(bucketClusters).Cursor()
	for k, v := cur.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, v = cur.Next() {
		var c clusterRec
		if err := json.Unmarshal(v, &c); err != nil {
			return nil, fmt.Errorf("decode cluster %s: %w", k, err)
		}
		out = append(out, &c)
	}
	return out, nil
}

func loadOp(tx *bolt.Tx, id string) (*opRec, error) {
	var o opRec
	ok, err := getJSON(tx, bucketOperations, strings.ToLower(id), &o)
	if err != nil || !ok {
		return nil, err
	}
	return &o, nil
}

func saveOp(tx *bolt.Tx, o *opRec) error { return putJSON(tx, bucketOperations, o.ID, o) }

// advance finishes every running operation whose time is up. It is called at the start of each
// request, in the request's transaction.
func (c *Cloud) advance(tx *bolt.Tx, now time.Time) error {
	clusters, err := listClusters(tx, "")
	if err != nil {
		return err
	}
	for _, cl := range clusters {
		if cl.ActiveOp == "" {
			continue
		}
		op, err := loadOp(tx, cl.ActiveOp)
		if err != nil {
			return err
		}
		if op == nil || op.Status != statusInProgress {
			// The record is gone or already final: nothing holds the cluster any more.
			cl.ActiveOp = ""
			if err := saveCluster(tx, cl); err != nil {
				return err
			}
			continue
		}
		if now.Before(op.End) {
			continue
		}
		if op.Fail != nil {
			err = c.finishOp(tx, cl, op, statusFailed, op.Fail, op.End)
		} else {
			err = c.finishOp(tx, cl, op, statusSucceeded, nil, op.End)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// finishOp ends op with status and applies its effect on the resource.
func (c *Cloud) finishOp(tx *bolt.Tx, cl *clusterRec, op *opRec, status string, failure *apiError, at time.Time) error {
	op.Status = status
	op.Error = failure
	op.End = at
	cl.ActiveOp = ""
	c.log.Info("simulated operation finished", "op", op.ID, "kind", op.Kind, "cluster", cl.Name, "pool", op.Pool, "status", status)
	if err := saveOp(tx, op); err != nil {
		return err
	}

	if status != statusSucceeded {
		// AKS leaves the resource with the goal it was given and a Failed or Canceled state.
		if op.Pool != "" {
			if _, p := cl.pool(op.Pool); p != nil {
				p.Properties.ProvisioningState = to.Ptr(status)
				p.Properties.ETag = to.Ptr(newETag())
			}
		} else {
			cl.props().ProvisioningState = to.Ptr(status)
			cl.Cluster.ETag = to.Ptr(newETag())
			for _, p := range cl.Pools {
				if deref(p.Properties.ProvisioningState) != statusSucceeded {
					p.Properties.ProvisioningState = to.Ptr(status)
				}
			}
		}
		return saveCluster(tx, cl)
	}

	switch {
	case op.Kind == opDelete && op.Pool == "":
		return deleteCluster(tx, cl.key())
	case op.Kind == opDelete:
		if i, _ := cl.pool(op.Pool); i >= 0 {
			cl.Pools = append(cl.Pools[:i], cl.Pools[i+1:]...)
		}
		return saveCluster(tx, cl)
	}

	settle := func(p *armcontainerservice.AgentPool) {
		pp := p.Properties
		pp.ProvisioningState = to.Ptr(statusSucceeded)
		pp.CurrentOrchestratorVersion = pp.OrchestratorVersion
		pp.ETag = to.Ptr(newETag())
		switch op.Kind {
		case opNodeImage:
			pp.NodeImageVersion = to.Ptr(latestNodeImage(string(derefOS(pp.OSType))))
		case opStart:
			pp.PowerState = &armcontainerservice.PowerState{Code: to.Ptr(armcontainerservice.CodeRunning)}
		case opStop:
			pp.PowerState = &armcontainerservice.PowerState{Code: to.Ptr(armcontainerservice.CodeStopped)}
		}
		// An upgrade to a new Kubernetes version also moves the pool to the newest node image.
		if op.State == "Upgrading" {
			pp.NodeImageVersion = to.Ptr(latestNodeImage(string(derefOS(pp.OSType))))
		}
	}
	if op.Pool != "" {
		if _, p := cl.pool(op.Pool); p != nil {
			settle(p)
		}
		return saveCluster(tx, cl)
	}
	props := cl.props()
	props.ProvisioningState = to.Ptr(statusSucceeded)
	if v, ok := resolveVersion(deref(props.KubernetesVersion)); ok {
		props.CurrentKubernetesVersion = to.Ptr(v)
	}
	switch op.Kind {
	case opStart:
		props.PowerState = &armcontainerservice.PowerState{Code: to.Ptr(armcontainerservice.CodeRunning)}
	case opStop:
		props.PowerState = &armcontainerservice.PowerState{Code: to.Ptr(armcontainerservice.CodeStopped)}
	}
	cl.Cluster.ETag = to.Ptr(newETag())
	for _, p := range cl.Pools {
		settle(p)
	}
	return saveCluster(tx, cl)
}

func newETag() string { return newUUID() }

// newUUID returns a random version 4 UUID, the form ARM uses for ids and eTags.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms; a panic beats reusing ids.
		panic(fmt.Sprintf("read random bytes: %v", err))
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func derefOS(p *armcontainerservice.OSType) armcontainerservice.OSType {
	if p == nil {
		return armcontainerservice.OSTypeLinux
	}
	return *p
}
