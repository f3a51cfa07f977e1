package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/aksbot/aksbot/internal/aks"
)

// Abort asks Azure to cancel the operation running on the pool t.Pool, or on the cluster when
// t.Pool is empty. It returns once Azure has accepted the abort and does not wait for it: the
// aborted operation's own poller then ends with status Canceled, which its Result reports as an
// *aks.AzureError with Code CodeCanceled.
//
// Errors: *aks.Error ENotFound when the cluster or pool does not exist, EConflict when nothing
// is running there (AKS answers 409); other refusals are a wrapped *aks.AzureError.
func (c *Client) Abort(ctx context.Context, t aks.Target) error {
	rg, name := t.ResourceGroup, t.Cluster
	if rg == "" || name == "" {
		return invalid("which cluster?", "add --resource-group and --name")
	}
	var err error
	if t.Pool != "" {
		_, err = c.pools.BeginAbortLatestOperation(ctx, rg, name, t.Pool, nil)
	} else {
		_, err = c.clusters.BeginAbortLatestOperation(ctx, rg, name, nil)
	}
	if err == nil {
		c.log.Info("abort accepted", "target", t.String())
		return nil
	}
	what := "abort the operation on " + t.String()
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		switch re.StatusCode {
		case http.StatusNotFound:
			msg := clusterNotFound(rg, name)
			if t.Pool != "" {
				msg = poolNotFound(rg, name, t.Pool)
			}
			return &aks.Error{Code: aks.ENotFound, Message: msg, Err: err}
		case http.StatusConflict:
			// AKS answers 409 when the operation ended before it could be cancelled, or when
			// there was none.
			return &aks.Error{Code: aks.EConflict, Message: fmt.Sprintf("no operation is running on %s", t),
				Hint: fmt.Sprintf("it may just have ended; see `/aks show %s`", name), Err: err}
		}
	}
	return c.mapErr(err, what, "")
}
