package sim

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	bolt "go.etcd.io/bbolt"
)

// Faults makes the simulated cloud misbehave at random, for fault-injection tests. Each request
// draws one number from a generator seeded with Seed, so the same sequence of requests meets the
// same faults. Fractions are of all requests (Throttle, ServerError) or of mutations
// (LostResponse, Conflict); they are tried in that order and should add up to at most 1.
type Faults struct {
	Seed int64
	// Throttle answers 429 TooManyRequests with Retry-After (Options.RetryAfter), doing nothing.
	Throttle float64
	// ServerError answers 500 InternalServerError without doing anything.
	ServerError float64
	// LostResponse applies a mutation (PUT, POST, DELETE) and then answers 500, as if the
	// response got lost: the caller cannot tell whether it was applied. Mutations Azure refuses
	// anyway are answered as usual and not counted.
	LostResponse float64
	// Conflict answers a mutation 409 OperationNotAllowed, doing nothing, as AKS does while an
	// operation started elsewhere runs on the cluster (without keeping the cluster busy, as
	// StartExternal does). It is tried after LostResponse.
	Conflict float64
	// EnsureEach makes every kind of fault with a non-zero fraction happen at least once: until
	// it has, a mutation that drew no fault gets the first kind still missing. A short test run
	// then proves something about each kind, whatever its seed draws.
	EnsureEach bool
}

// FaultCounts says how many faults of each kind were injected since SetFaults.
type FaultCounts struct {
	Throttle, ServerError, LostResponse, Conflict int
}

type fault int

const (
	noFault fault = iota
	faultThrottle
	faultServerError
	faultLostResponse
	faultConflict
)

// SetFaults turns random faults on (or off, with the zero Faults) and resets the counts.
func (c *Cloud) SetFaults(f Faults) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = f
	seed := uint64(f.Seed)
	c.faultRand = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c.faultCounts = FaultCounts{}
}

// Faults returns how many faults were injected since SetFaults.
func (c *Cloud) Faults() FaultCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.faultCounts
}

// drawFault decides the fault for one request. A lost response is counted by lostResponse,
// once the mutation has actually been applied.
func (c *Cloud) drawFault(method string) fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.faults
	if c.faultRand == nil || f.Throttle <= 0 && f.ServerError <= 0 && f.LostResponse <= 0 && f.Conflict <= 0 {
		return noFault
	}
	x := c.faultRand.Float64()
	switch {
	case x < f.Throttle:
		c.faultCounts.Throttle++
		return faultThrottle
	case x < f.Throttle+f.ServerError:
		c.faultCounts.ServerError++
		return faultServerError
	case isMutation(method) && x < f.Throttle+f.ServerError+f.LostResponse:
		return faultLostResponse
	case isMutation(method) && x < f.Throttle+f.ServerError+f.LostResponse+f.Conflict:
		c.faultCounts.Conflict++
		return faultConflict
	case f.EnsureEach && isMutation(method):
		return c.missingFault()
	}
	return noFault
}

// missingFault returns the first kind of fault that is asked for and has not happened yet (a
// lost response counts once a mutation was applied and its answer dropped), else noFault. Call
// with c.mu held.
func (c *Cloud) missingFault() fault {
	f, n := c.faults, c.faultCounts
	switch {
	case f.Throttle > 0 && n.Throttle == 0:
		c.faultCounts.Throttle++
		return faultThrottle
	case f.ServerError > 0 && n.ServerError == 0:
		c.faultCounts.ServerError++
		return faultServerError
	case f.LostResponse > 0 && n.LostResponse == 0:
		return faultLostResponse
	case f.Conflict > 0 && n.Conflict == 0:
		c.faultCounts.Conflict++
		return faultConflict
	}
	return noFault
}

func (c *Cloud) countLostResponse() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faultCounts.LostResponse++
}

func isMutation(method string) bool {
	switch method {
	case http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodPatch:
		return true
	}
	return false
}

// faultReply is the answer for a throttled request or a server error.
func (c *Cloud) faultReply(f fault) *reply {
	if f == faultThrottle {
		rep := errReply(errorf(http.StatusTooManyRequests, "TooManyRequests", "The request is being throttled as the limit has been reached for operation type - Write_ManagedCluster. Please try again after some time."))
		c.setRetryAfter(rep.header)
		return rep
	}
	if f == faultConflict {
		return errReply(busyError("Updating"))
	}
	return errReply(errorf(http.StatusInternalServerError, "InternalServerError", "An internal server error occurred. Please try again later."))
}

// StartExternal makes cluster rg/cluster (in SubscriptionID) busy for d with an operation
// started outside the bot, as a colleague's `az aks update` would: meanwhile its
// provisioningState is Updating and mutations get 409 OperationNotAllowed; then it is
// Succeeded again. It fails if the cluster does not exist or is busy already.
func (c *Cloud) StartExternal(rg, cluster string, d time.Duration) error {
	now := c.now()
	err := c.db.Update(func(tx *bolt.Tx) error {
		if err := c.advance(tx, now); err != nil {
			return err
		}
		rec, err := loadCluster(tx, clusterKey(SubscriptionID, rg, cluster))
		if err != nil {
			return err
		}
		if rec == nil {
			return fmt.Errorf("cluster not found")
		}
		if rec.ActiveOp != "" {
			return fmt.Errorf("an operation is running on it already")
		}
		const state = "Updating"
		op := &opRec{
			ID: newUUID(), Sub: rec.Sub, Location: rec.Location, ClusterKey: rec.key(),
			Path: "external", Kind: opExternal, State: state, Start: now, End: now.Add(d), Status: statusInProgress,
		}
		rec.ActiveOp = op.ID
		rec.props().ProvisioningState = to.Ptr(state)
		rec.Cluster.ETag = to.Ptr(newETag())
		if err := saveOp(tx, op); err != nil {
			return err
		}
		return saveCluster(tx, rec)
	})
	if err != nil {
		return fmt.Errorf("start external operation on %s/%s: %w", rg, cluster, err)
	}
	c.log.Info("simulated external operation started", "cluster", cluster, "duration", d)
	return nil
}
