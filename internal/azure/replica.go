package azure

import (
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// ReplicaHeader is the request header that names the aksbot replica (AKSBOT_REPLICA_ID) an ARM
// request comes from. Azure ignores it; the simulated cloud's request log keeps it, so that the
// multi-replica tests can tell which replica sent each mutation.
const ReplicaHeader = "x-aksbot-replica"

// ReplicaPolicy returns a per-try policy that sets ReplicaHeader to id on every request. Pass it
// in Config.Policies when the bot runs as one of several replicas.
func ReplicaPolicy(id string) policy.Policy { return replicaPolicy(id) }

type replicaPolicy string

func (p replicaPolicy) Do(req *policy.Request) (*http.Response, error) {
	req.Raw().Header.Set(ReplicaHeader, string(p))
	return req.Next()
}
