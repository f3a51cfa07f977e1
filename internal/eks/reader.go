package eks

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aksbot/aksbot/internal/aks"
)

// Reader answers the chat layer's read commands (/eks list, /eks describe, the node-group list
// and describe) with the renderers' text. A region "" is the client's default region. Every
// error is an *aks.Error for the person who asked.
type Reader struct{ c *Client }

// Reader returns the client's read port.
func (c *Client) Reader() *Reader { return &Reader{c: c} }

// ListClusters renders the clusters of regions (nil or empty: the configured regions).
func (r *Reader) ListClusters(ctx context.Context, regions []string) (string, error) {
	if len(regions) == 0 {
		regions = r.c.regions
	}
	named := make([]string, len(regions))
	for i, region := range regions {
		named[i] = r.c.region(region)
	}
	cls, err := r.c.ListClusters(ctx, named)
	if err != nil {
		return "", forUser(err, "list the EKS clusters", "")
	}
	return RenderClusters(named, cls), nil
}

// DescribeCluster renders one cluster and its node groups.
func (r *Reader) DescribeCluster(ctx context.Context, region, cluster string) (string, error) {
	cl, err := r.c.DescribeCluster(ctx, region, cluster)
	if err != nil {
		return "", forUser(err, "read cluster "+cluster, clusterHint)
	}
	return RenderCluster(cl), nil
}

// ListNodegroups renders the node groups of a cluster.
func (r *Reader) ListNodegroups(ctx context.Context, region, cluster string) (string, error) {
	ngs, err := r.c.ListNodegroups(ctx, region, cluster)
	if err != nil {
		return "", forUser(err, "list the node groups of "+cluster, clusterHint)
	}
	return RenderNodegroups(cluster, ngs), nil
}

// DescribeNodegroup renders one node group.
func (r *Reader) DescribeNodegroup(ctx context.Context, region, cluster, nodegroup string) (string, error) {
	ng, err := r.c.DescribeNodegroup(ctx, region, cluster, nodegroup)
	if err != nil {
		t := aks.Target{Provider: aks.ProviderEKS, Region: r.c.region(region), Cluster: cluster}
		return "", forUser(err, "read node group "+nodegroup, "see its node groups with "+t.ShowCommand())
	}
	return RenderNodegroup(ng), nil
}

// clusterHint is where to look when a cluster is not found: it may be in another region.
const clusterHint = "see the clusters the bot can see, in every configured region, with /eks list"

// region is the region a request for region goes to ("" = the default).
func (c *Client) region(region string) string {
	if region == "" {
		return c.regions[0]
	}
	return region
}

// forUser makes err an *aks.Error for the person who asked: not found gets notFoundHint (when
// it has no hint of its own), and EKS's refusals and throttling say what EKS said.
func forUser(err error, doing, notFoundHint string) *aks.Error {
	var ae *aks.Error
	if errors.As(err, &ae) {
		if ae.Code == aks.ENotFound && ae.Hint == "" {
			withHint := *ae
			withHint.Hint = notFoundHint
			return &withHint
		}
		return ae
	}
	var az *aks.AzureError
	if errors.As(err, &az) {
		hint := "try again in a minute"
		if az.StatusCode == http.StatusForbidden || az.Code == "AccessDeniedException" {
			hint = "the bot's IAM role lacks eks:Describe* or eks:List*; ask an admin to grant them (see the README's EKS section)"
		}
		return &aks.Error{Code: aks.EUnavailable, Message: fmt.Sprintf("EKS refused to %s: %s: %s", doing, az.Code, az.Message),
			Hint: hint, Err: err}
	}
	return &aks.Error{Code: aks.EUnavailable, Message: "could not " + doing, Hint: "try again in a minute", Err: err}
}
