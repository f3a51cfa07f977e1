package eks

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
)

// Cluster is the read view of an EKS cluster: its control plane and, when read with them, its
// managed node groups.
type Cluster struct {
	Name            string      `json:"name"`
	Region          string      `json:"region"`
	ARN             string      `json:"arn,omitempty"`
	Version         string      `json:"version"`
	PlatformVersion string      `json:"platformVersion,omitempty"`
	Endpoint        string      `json:"endpoint,omitempty"`
	Status          string      `json:"status"` // EKS's: ACTIVE, CREATING, UPDATING, ...
	CreatedAt       time.Time   `json:"createdAt,omitzero"`
	Nodegroups      []Nodegroup `json:"nodegroups,omitempty"`
}

// Nodes is the sum of the node groups' desired sizes.
func (c Cluster) Nodes() int {
	n := 0
	for _, ng := range c.Nodegroups {
		n += int(ng.Desired)
	}
	return n
}

// Nodegroup is the read view of a managed node group.
type Nodegroup struct {
	Name           string            `json:"name"`
	Cluster        string            `json:"cluster"`
	Status         string            `json:"status"` // EKS's: ACTIVE, UPDATING, DEGRADED, ...
	Version        string            `json:"version"`
	ReleaseVersion string            `json:"releaseVersion,omitempty"`
	Min            int32             `json:"min"`
	Desired        int32             `json:"desired"`
	Max            int32             `json:"max"`
	InstanceTypes  []string          `json:"instanceTypes,omitempty"`
	CapacityType   string            `json:"capacityType,omitempty"`
	AMIType        string            `json:"amiType,omitempty"`
	NodeRole       string            `json:"nodeRole,omitempty"`
	Subnets        []string          `json:"subnets,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Taints         []Taint           `json:"taints,omitempty"`
	Health         []string          `json:"health,omitempty"` // "CODE: message" per issue
	ModifiedAt     time.Time         `json:"modifiedAt,omitzero"`
}

func clusterFrom(region string, c *types.Cluster) Cluster {
	if c == nil {
		return Cluster{Region: region}
	}
	return Cluster{
		Name: aws.ToString(c.Name), Region: region, ARN: aws.ToString(c.Arn),
		Version: aws.ToString(c.Version), PlatformVersion: aws.ToString(c.PlatformVersion),
		Endpoint: aws.ToString(c.Endpoint), Status: string(c.Status), CreatedAt: aws.ToTime(c.CreatedAt),
	}
}

func nodegroupFrom(ng *types.Nodegroup) Nodegroup {
	if ng == nil {
		return Nodegroup{}
	}
	v := Nodegroup{
		Name: aws.ToString(ng.NodegroupName), Cluster: aws.ToString(ng.ClusterName), Status: string(ng.Status),
		Version: aws.ToString(ng.Version), ReleaseVersion: aws.ToString(ng.ReleaseVersion),
		InstanceTypes: ng.InstanceTypes, CapacityType: string(ng.CapacityType), AMIType: string(ng.AmiType),
		NodeRole: aws.ToString(ng.NodeRole), Subnets: ng.Subnets, Labels: ng.Labels, ModifiedAt: aws.ToTime(ng.ModifiedAt),
	}
	if sc := ng.ScalingConfig; sc != nil {
		v.Min, v.Desired, v.Max = aws.ToInt32(sc.MinSize), aws.ToInt32(sc.DesiredSize), aws.ToInt32(sc.MaxSize)
	}
	for _, t := range ng.Taints {
		v.Taints = append(v.Taints, Taint{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value), Effect: string(t.Effect)})
	}
	if ng.Health != nil {
		for _, is := range ng.Health.Issues {
			v.Health = append(v.Health, fmt.Sprintf("%s: %s", is.Code, aws.ToString(is.Message)))
		}
	}
	return v
}

// ListClusters lists the clusters of the given regions (nil: the configured ones) with their
// control plane (not their node groups), sorted by region and name. A region that cannot be read
// fails the whole list: a partial list would read as "no clusters there".
func (c *Client) ListClusters(ctx context.Context, regions []string) ([]Cluster, error) {
	if len(regions) == 0 {
		regions = c.regions
	}
	var out []Cluster
	for _, region := range regions {
		api, region, err := c.api(region)
		if err != nil {
			return nil, err
		}
		var names []string
		p := awseks.NewListClustersPaginator(api, &awseks.ListClustersInput{})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, c.mapErr(err, "list clusters in "+region, "")
			}
			names = append(names, page.Clusters...)
		}
		for _, name := range names {
			cl, err := c.describeCluster(ctx, api, region, name)
			if err != nil {
				return nil, err
			}
			out = append(out, cl)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Region != out[j].Region {
			return out[i].Region < out[j].Region
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// DescribeCluster reads one cluster's control plane and its node groups.
func (c *Client) DescribeCluster(ctx context.Context, region, name string) (Cluster, error) {
	api, region, err := c.api(region)
	if err != nil {
		return Cluster{}, err
	}
	cl, err := c.describeCluster(ctx, api, region, name)
	if err != nil {
		return Cluster{}, err
	}
	cl.Nodegroups, err = c.listNodegroups(ctx, api, region, name)
	return cl, err
}

// ListNodegroups reads every node group of a cluster, sorted by name.
func (c *Client) ListNodegroups(ctx context.Context, region, cluster string) ([]Nodegroup, error) {
	api, region, err := c.api(region)
	if err != nil {
		return nil, err
	}
	return c.listNodegroups(ctx, api, region, cluster)
}

// DescribeNodegroup reads one node group; an *aks.Error ENotFound when it does not exist.
func (c *Client) DescribeNodegroup(ctx context.Context, region, cluster, name string) (Nodegroup, error) {
	api, region, err := c.api(region)
	if err != nil {
		return Nodegroup{}, err
	}
	ng, err := c.describeNodegroup(ctx, api, region, cluster, name)
	if err != nil {
		return Nodegroup{}, err
	}
	return nodegroupFrom(ng), nil
}

func (c *Client) describeCluster(ctx context.Context, api *awseks.Client, region, name string) (Cluster, error) {
	out, err := api.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil {
		return Cluster{}, c.mapErr(err, fmt.Sprintf("read cluster %s in %s", name, region),
			fmt.Sprintf("there is no EKS cluster %s in %s", name, region))
	}
	return clusterFrom(region, out.Cluster), nil
}

func (c *Client) describeNodegroup(ctx context.Context, api *awseks.Client, region, cluster, name string) (*types.Nodegroup, error) {
	out, err := api.DescribeNodegroup(ctx, &awseks.DescribeNodegroupInput{ClusterName: aws.String(cluster), NodegroupName: aws.String(name)})
	if err != nil {
		return nil, c.mapErr(err, fmt.Sprintf("read node group %s of %s in %s", name, cluster, region),
			fmt.Sprintf("there is no node group %s in cluster %s (%s)", name, cluster, region))
	}
	return out.Nodegroup, nil
}

func (c *Client) listNodegroups(ctx context.Context, api *awseks.Client, region, cluster string) ([]Nodegroup, error) {
	var names []string
	p := awseks.NewListNodegroupsPaginator(api, &awseks.ListNodegroupsInput{ClusterName: aws.String(cluster)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.mapErr(err, fmt.Sprintf("list node groups of %s in %s", cluster, region),
				fmt.Sprintf("there is no EKS cluster %s in %s", cluster, region))
		}
		names = append(names, page.Nodegroups...)
	}
	sort.Strings(names)
	out := make([]Nodegroup, 0, len(names))
	for _, name := range names {
		ng, err := c.describeNodegroup(ctx, api, region, cluster, name)
		if err != nil {
			if apiCode(err) == codeNotFound || isNotFound(err) {
				continue // deleted between the list and the read
			}
			return nil, err
		}
		out = append(out, nodegroupFrom(ng))
	}
	return out, nil
}
