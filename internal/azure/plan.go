package azure

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

// AKS limits and the defaults `az aks create` and `az aks nodepool add` use.
const (
	DefaultNodeCount = 3
	DefaultVMSize    = "Standard_DS2_v2"
	DefaultPoolName  = "nodepool1" // the system pool of a new cluster
	MaxPools         = 100
	MaxClusterNodes  = 5000
	MaxPoolNodes     = 1000
)

// changeVersion names the plan change that carries a create's resolved version, which Begin
// sends so that the cluster gets the version that was approved.
const changeVersion = "Kubernetes version"

const (
	modeSystem = "System"
	modeUser   = "User"
)

// Plan reads the target's current state, checks that op is possible now and says what it will
// change. Refusals are *aks.Error (EInvalid, ENotFound) with a hint saying what to do instead.
//
// Every plan names the subscription and the cluster's location, and ClusterNodes counts the
// cluster's nodes after the change (autoscaled pools at their max), for policy guardrails.
func (c *Client) Plan(ctx context.Context, op aks.Operation) (aks.Plan, error) {
	plan, err := c.plan(ctx, op)
	if err != nil {
		return aks.Plan{}, err
	}
	plan.Subscription = c.sub
	return plan, nil
}

func (c *Client) plan(ctx context.Context, op aks.Operation) (aks.Plan, error) {
	t := op.Target
	if t.ResourceGroup == "" || t.Cluster == "" {
		return aks.Plan{}, invalid("a resource group and a cluster name are needed", "add --resource-group and --name")
	}
	if op.Kind == aks.OpClusterCreate {
		plan, err := c.planCreate(ctx, op)
		if err == nil {
			plan.Capacity = capacity(op, nil, plan)
		}
		return plan, err
	}
	cl, err := c.GetCluster(ctx, t.ResourceGroup, t.Cluster)
	if err != nil {
		return aks.Plan{}, err
	}
	plan, err := c.planExisting(ctx, op, cl)
	if err != nil {
		return aks.Plan{}, err
	}
	plan.Location = normLocation(cl.Location)
	plan.Capacity = capacity(op, &cl, plan)
	return plan, nil
}

// planExisting plans an operation on the existing cluster cl.
func (c *Client) planExisting(ctx context.Context, op aks.Operation, cl aks.Cluster) (aks.Plan, error) {
	t := op.Target
	switch op.Kind {
	case aks.OpClusterDelete:
		return planDelete(cl), nil
	case aks.OpClusterStart, aks.OpClusterStop:
		plan, err := planPower(op, cl)
		// A stopped cluster runs no nodes; a started one runs all its pools.
		plan.ClusterNodes = 0
		if op.Kind == aks.OpClusterStart {
			plan.ClusterNodes = nodesAfter(cl, "", 0)
		}
		return plan, err
	case aks.OpClusterUpgrade:
		plan, err := c.planUpgrade(ctx, op, cl)
		plan.ClusterNodes = nodesAfter(cl, "", 0)
		return plan, err
	case aks.OpPoolAdd:
		plan, err := planPoolAdd(op, cl)
		added := plan.ToNodes
		if a := op.Autoscaler; a != nil {
			added = a.Max
		}
		plan.ClusterNodes = nodesAfter(cl, t.Pool, added)
		return plan, err
	case aks.OpPoolScale, aks.OpPoolAutoscale, aks.OpPoolDelete, aks.OpPoolUpgrade:
		name, err := resolvePool(op, cl)
		if err != nil {
			return aks.Plan{}, err
		}
		// The pool resource itself carries the ETag its PUT is checked against.
		ap, err := c.getPool(ctx, t.ResourceGroup, t.Cluster, name)
		if err != nil {
			return aks.Plan{}, err
		}
		pool := PoolFromARM(ap)
		if pool.Name == "" {
			pool.Name = name
		}
		var plan aks.Plan
		switch op.Kind {
		case aks.OpPoolScale:
			plan, err = planScale(op, cl, pool)
		case aks.OpPoolAutoscale:
			plan, err = planAutoscale(op, pool)
		case aks.OpPoolDelete:
			plan, err = planPoolDelete(cl, pool)
		case aks.OpPoolUpgrade:
			plan, err = c.planPoolUpgrade(ctx, op, cl, pool)
		}
		if err != nil {
			return aks.Plan{}, err
		}
		plan.Pool = pool.Name
		plan.ETag = pool.ETag
		plan.VMSize = pool.VMSize
		plan.ClusterNodes = nodesAfter(cl, pool.Name, poolNodesAfter(op, pool))
		return plan, nil
	}
	return aks.Plan{}, invalid(fmt.Sprintf("unknown operation %q", op.Kind), "")
}

func clusterName(t aks.Target) string { return t.ClusterName() }

// normLocation is a location as ARM names it: "West Europe" -> "westeurope".
func normLocation(loc string) string { return strings.ToLower(strings.ReplaceAll(loc, " ", "")) }

// poolNodes is what a pool counts for guardrails: its autoscaler max when autoscaled, since
// the autoscaler may grow it that far without asking anyone.
func poolNodes(p aks.Pool) int {
	if p.Autoscaling && p.MaxCount > 0 {
		return p.MaxCount
	}
	return p.Count
}

// poolNodesAfter is what the pool an operation changes counts after it.
func poolNodesAfter(op aks.Operation, p aks.Pool) int {
	switch op.Kind {
	case aks.OpPoolScale:
		if op.NodeCount != nil {
			return *op.NodeCount
		}
	case aks.OpPoolAutoscale:
		if op.DisableAutoscaler {
			return p.Count
		}
		if op.Autoscaler != nil {
			return op.Autoscaler.Max
		}
	case aks.OpPoolDelete:
		return 0
	}
	return poolNodes(p)
}

// nodesAfter is the cluster's node count with pool (if not "") counted as n instead of what it
// has now, or added when it does not exist yet; -1 when the cluster lists no pools.
func nodesAfter(cl aks.Cluster, pool string, n int) int {
	if len(cl.Pools) == 0 {
		return -1
	}
	total := 0
	for _, p := range cl.Pools {
		if pool == "" || !strings.EqualFold(p.Name, pool) {
			total += poolNodes(p)
		}
	}
	if pool != "" {
		total += n
	}
	return total
}

// createSpec is what a create sends; Plan and Begin both derive it from the operation.
type createSpec struct {
	count      int
	vmSize     string
	version    string
	isDefault  bool
	autoscaler *aks.Autoscaler
}

// createSpec fills the defaults of a create. knownVersion, when not empty, is the version an
// approved plan already resolved; otherwise the location's versions are read.
func (c *Client) createSpec(ctx context.Context, op aks.Operation, knownVersion string) (createSpec, error) {
	s := createSpec{count: DefaultNodeCount, vmSize: DefaultVMSize, autoscaler: op.Autoscaler}
	if op.VMSize != "" {
		s.vmSize = op.VMSize
	}
	if a := op.Autoscaler; a != nil {
		if err := checkRange(*a, modeSystem); err != nil {
			return s, err
		}
		// Without a count, start inside the autoscaler's range.
		s.count = min(max(s.count, a.Min), a.Max)
	}
	if op.NodeCount != nil {
		s.count = *op.NodeCount
	}
	if s.count < 1 || s.count > MaxPoolNodes {
		return s, invalid(fmt.Sprintf("a new cluster's system pool needs 1 to %d nodes, not %d", MaxPoolNodes, s.count), "set --node-count between 1 and 1000")
	}
	if a := op.Autoscaler; a != nil && (s.count < a.Min || s.count > a.Max) {
		return s, invalid(fmt.Sprintf("--node-count %d is outside the autoscaler's range %d-%d", s.count, a.Min, a.Max), "pick a node count between --min-count and --max-count")
	}
	if knownVersion != "" {
		s.version = knownVersion
		return s, nil
	}
	versions, err := c.GetVersions(ctx, op.Location)
	if err != nil {
		return s, err
	}
	s.version, s.isDefault, err = pickVersion(op.KubernetesVersion, op.Location, versions)
	return s, err
}

// pickVersion returns the version to create with: the location's default, or the asked one if
// the location offers it (a minor such as "1.31" means its newest patch, as in AKS).
func pickVersion(asked, location string, versions []aks.KubernetesVersion) (string, bool, error) {
	if asked == "" {
		for _, v := range versions {
			if v.IsDefault {
				return v.Version, true, nil
			}
		}
		if len(versions) == 0 {
			return "", false, invalid("no Kubernetes versions are offered in "+location, "check the location name (az account list-locations)")
		}
		// No default marked: AKS would pick; the newest non-preview is the closest guess.
		for i := len(versions) - 1; i >= 0; i-- {
			if !versions[i].Preview {
				return versions[i].Version, true, nil
			}
		}
		return versions[len(versions)-1].Version, true, nil
	}
	found := ""
	for _, v := range versions {
		if v.Version == asked || strings.HasPrefix(v.Version, asked+".") && strings.Count(asked, ".") == 1 {
			found = v.Version // versions are sorted, so the last match is the newest patch
		}
	}
	if found == "" {
		offered := make([]string, 0, len(versions))
		for _, v := range versions {
			offered = append(offered, v.Version)
		}
		return "", false, invalid(fmt.Sprintf("Kubernetes %s is not offered in %s", asked, location),
			"pick one of: "+strings.Join(offered, ", ")+" (or leave --kubernetes-version out for the default)")
	}
	return found, false, nil
}

func (c *Client) planCreate(ctx context.Context, op aks.Operation) (aks.Plan, error) {
	t := op.Target
	if op.Location == "" {
		return aks.Plan{}, invalid("a new cluster needs a location", "add --location, e.g. --location westeurope")
	}
	_, err := c.getCluster(ctx, t.ResourceGroup, t.Cluster)
	if err == nil {
		return aks.Plan{}, invalid(fmt.Sprintf("cluster %s already exists", clusterName(t)),
			"pick another name, or change the existing cluster with `/aks nodepool` or `/aks upgrade`")
	}
	if aks.ErrorCode(err) != aks.ENotFound {
		return aks.Plan{}, err
	}
	s, err := c.createSpec(ctx, op, "")
	if err != nil {
		return aks.Plan{}, err
	}
	version := "Kubernetes " + s.version
	if s.isDefault {
		version += " (default)"
	}
	summary := fmt.Sprintf("new cluster %s: %d x %s nodes, %s", t.Cluster, s.count, s.vmSize, version)
	nodes := s.count
	if s.autoscaler != nil {
		nodes = s.autoscaler.Max
	}
	if s.autoscaler != nil {
		summary += fmt.Sprintf(", autoscaler %d-%d", s.autoscaler.Min, s.autoscaler.Max)
	}
	return aks.Plan{
		Summary: summary,
		Changes: []aks.Change{
			{What: "cluster " + t.Cluster, To: op.Location},
			{What: DefaultPoolName + " nodes", To: strconv.Itoa(s.count)},
			{What: changeVersion, To: s.version},
		},
		ScaleUp:      true,
		Pool:         DefaultPoolName,
		FromNodes:    0,
		ToNodes:      s.count,
		VMSize:       s.vmSize,
		Location:     normLocation(op.Location),
		ClusterNodes: nodes,
	}, nil
}

func planDelete(cl aks.Cluster) aks.Plan {
	n := cl.NodeCount()
	desc := nodesInPools(n, len(cl.Pools))
	return aks.Plan{
		Summary:      fmt.Sprintf("delete cluster %s (%s)", cl.Name, desc),
		Changes:      []aks.Change{{What: "cluster", From: desc}},
		FromNodes:    n,
		ToNodes:      0,
		ETag:         cl.ETag,
		ClusterNodes: 0,
	}
}

func planPower(op aks.Operation, cl aks.Cluster) (aks.Plan, error) {
	name := clusterName(op.Target)
	want, from, to := "Stopped", "Stopped", "Running"
	verb := "start"
	if op.Kind == aks.OpClusterStop {
		want, from, to = "Running", "Running", "Stopped"
		verb = "stop"
	}
	if !strings.EqualFold(cl.PowerState, want) {
		state := cl.PowerState
		if state == "" {
			state = "in an unknown power state"
		}
		return aks.Plan{}, invalid(fmt.Sprintf("cannot %s cluster %s: it is %s", verb, name, state),
			fmt.Sprintf("only a %s cluster can be %sed; see `/aks show %s`", strings.ToLower(want), verb, op.Target.Cluster))
	}
	return aks.Plan{
		Summary:   fmt.Sprintf("%s cluster %s (%s)", verb, cl.Name, nodesInPools(cl.NodeCount(), len(cl.Pools))),
		Changes:   []aks.Change{{What: "power state", From: from, To: to}},
		ScaleUp:   op.Kind == aks.OpClusterStart,
		FromNodes: -1,
		ToNodes:   -1,
		ETag:      cl.ETag,
	}, nil
}

func (c *Client) planUpgrade(ctx context.Context, op aks.Operation, cl aks.Cluster) (aks.Plan, error) {
	name := clusterName(op.Target)
	if op.KubernetesVersion == "" {
		return aks.Plan{}, invalid("which version?", fmt.Sprintf("add --kubernetes-version; `/aks get-upgrades %s` lists the possible ones", op.Target.Cluster))
	}
	if strings.EqualFold(cl.PowerState, "Stopped") {
		return aks.Plan{}, invalid(fmt.Sprintf("cluster %s is stopped", name), "start it first with `/aks start`")
	}
	u, err := c.GetUpgrades(ctx, op.Target.ResourceGroup, op.Target.Cluster)
	if err != nil {
		return aks.Plan{}, err
	}
	if !contains(u.ControlPlane, op.KubernetesVersion) {
		return aks.Plan{}, invalid(fmt.Sprintf("cluster %s (Kubernetes %s) cannot be upgraded to %s", name, u.ControlPlaneVersion, op.KubernetesVersion),
			possible(u.ControlPlane))
	}
	from := u.ControlPlaneVersion
	if from == "" {
		from = cl.KubernetesVersion
	}
	scope := "control plane and all pools"
	if op.ControlPlaneOnly {
		scope = "control plane only"
	}
	plan := aks.Plan{
		Summary:   fmt.Sprintf("Kubernetes %s -> %s (%s)", from, op.KubernetesVersion, scope),
		Changes:   []aks.Change{{What: "control plane Kubernetes version", From: from, To: op.KubernetesVersion}},
		FromNodes: -1,
		ToNodes:   -1,
		ETag:      cl.ETag,
	}
	if !op.ControlPlaneOnly {
		for _, p := range cl.Pools {
			plan.Changes = append(plan.Changes, aks.Change{What: p.Name + " Kubernetes version", From: p.OrchestratorVersion, To: op.KubernetesVersion})
		}
	}
	return plan, nil
}

func possible(versions []string) string {
	if len(versions) == 0 {
		return "no upgrade is available now"
	}
	return "possible: " + strings.Join(versions, ", ")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// resolvePool returns the pool's name as Azure spells it. `/aks scale` gives no pool: the
// cluster's only pool is meant, and with several the user must say which.
func resolvePool(op aks.Operation, cl aks.Cluster) (string, error) {
	name := clusterName(op.Target)
	if op.Target.Pool == "" {
		if op.Kind != aks.OpPoolScale {
			return "", invalid("which pool?", "add --nodepool-name")
		}
		if len(cl.Pools) == 1 {
			return cl.Pools[0].Name, nil
		}
		return "", invalid(fmt.Sprintf("cluster %s has %d pools: %s", name, len(cl.Pools), poolNames(cl)),
			"add --nodepool-name, e.g. `/aks nodepool scale --nodepool-name NAME`")
	}
	p, ok := cl.Pool(op.Target.Pool)
	if !ok {
		return "", &aks.Error{Code: aks.ENotFound,
			Message: poolNotFound(op.Target.ResourceGroup, op.Target.Cluster, op.Target.Pool),
			Hint:    "its pools are: " + poolNames(cl)}
	}
	return p.Name, nil
}

func poolNames(cl aks.Cluster) string {
	names := make([]string, 0, len(cl.Pools))
	for _, p := range cl.Pools {
		names = append(names, p.Name)
	}
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

func planScale(op aks.Operation, cl aks.Cluster, p aks.Pool) (aks.Plan, error) {
	if op.NodeCount == nil {
		return aks.Plan{}, invalid("how many nodes?", "add --node-count")
	}
	n := *op.NodeCount
	if p.Autoscaling {
		return aks.Plan{}, invalid(fmt.Sprintf("pool %s is autoscaled (%d-%d nodes), so its node count cannot be set", p.Name, p.MinCount, p.MaxCount),
			fmt.Sprintf("change the range with `/aks nodepool update --nodepool-name %s --update-cluster-autoscaler --min-count N --max-count M`, or turn it off with --disable-cluster-autoscaler first", p.Name))
	}
	if n == p.Count {
		return aks.Plan{}, invalid(fmt.Sprintf("pool %s already has %d nodes", p.Name, n), "nothing to do")
	}
	if n < 0 || n > MaxPoolNodes {
		return aks.Plan{}, invalid(fmt.Sprintf("a pool can have 0 to %d nodes, not %d", MaxPoolNodes, n), "")
	}
	if n == 0 && strings.EqualFold(p.Mode, modeSystem) {
		return aks.Plan{}, invalid(fmt.Sprintf("pool %s is a System pool and cannot go to 0 nodes", p.Name),
			"keep at least 1 node; only User pools can scale to 0")
	}
	if total := cl.NodeCount() - p.Count + n; total > MaxClusterNodes {
		return aks.Plan{}, invalid(fmt.Sprintf("the cluster would have %d nodes, over AKS's limit of %d", total, MaxClusterNodes),
			fmt.Sprintf("at most %d nodes fit in pool %s", MaxClusterNodes-(cl.NodeCount()-p.Count), p.Name))
	}
	return aks.Plan{
		Summary:   fmt.Sprintf("%s: %d -> %d nodes", p.Name, p.Count, n),
		Changes:   []aks.Change{{What: p.Name + " nodes", From: strconv.Itoa(p.Count), To: strconv.Itoa(n)}},
		ScaleUp:   n > p.Count,
		FromNodes: p.Count,
		ToNodes:   n,
	}, nil
}

// checkRange checks an autoscaler range for a pool of the given mode.
func checkRange(a aks.Autoscaler, mode string) error {
	lowest := 0
	if strings.EqualFold(mode, modeSystem) {
		lowest = 1
	}
	if a.Min < lowest {
		if lowest == 1 {
			return invalid(fmt.Sprintf("a System pool's autoscaler minimum must be at least 1, not %d", a.Min), "use --min-count 1 or more")
		}
		return invalid(fmt.Sprintf("--min-count cannot be negative (%d)", a.Min), "")
	}
	if a.Max < a.Min {
		return invalid(fmt.Sprintf("--max-count %d is below --min-count %d", a.Max, a.Min), "")
	}
	if a.Max > MaxPoolNodes {
		return invalid(fmt.Sprintf("--max-count %d is over AKS's limit of %d nodes per pool", a.Max, MaxPoolNodes), "")
	}
	return nil
}

func rangeString(lo, hi int) string { return fmt.Sprintf("%d-%d", lo, hi) }

func planAutoscale(op aks.Operation, p aks.Pool) (aks.Plan, error) {
	plan := aks.Plan{FromNodes: -1, ToNodes: -1}
	switch {
	case op.DisableAutoscaler:
		if !p.Autoscaling {
			return aks.Plan{}, invalid(fmt.Sprintf("the autoscaler is not enabled on pool %s", p.Name),
				fmt.Sprintf("to change its size use `/aks nodepool scale --nodepool-name %s --node-count N`", p.Name))
		}
		plan.Summary = fmt.Sprintf("%s: disable the autoscaler (%s), stays at %d nodes", p.Name, rangeString(p.MinCount, p.MaxCount), p.Count)
		plan.Changes = []aks.Change{{What: p.Name + " autoscaler", From: rangeString(p.MinCount, p.MaxCount), To: "off"}}
		return plan, nil
	case op.Autoscaler == nil:
		return aks.Plan{}, invalid("what should change?", "add --enable-cluster-autoscaler or --update-cluster-autoscaler with --min-count and --max-count, or --disable-cluster-autoscaler")
	}
	a := *op.Autoscaler
	if err := checkRange(a, p.Mode); err != nil {
		return aks.Plan{}, err
	}
	if !p.Autoscaling {
		if p.Count < a.Min || p.Count > a.Max {
			target := min(max(p.Count, a.Min), a.Max)
			return aks.Plan{}, invalid(fmt.Sprintf("pool %s has %d nodes, outside the range %s", p.Name, p.Count, rangeString(a.Min, a.Max)),
				fmt.Sprintf("scale it first (`/aks nodepool scale --nodepool-name %s --node-count %d`) or pick a range that includes %d", p.Name, target, p.Count))
		}
		plan.Summary = fmt.Sprintf("%s: enable the autoscaler, %s nodes (now %d)", p.Name, rangeString(a.Min, a.Max), p.Count)
		plan.Changes = []aks.Change{
			{What: p.Name + " autoscaler min", To: strconv.Itoa(a.Min)},
			{What: p.Name + " autoscaler max", To: strconv.Itoa(a.Max)},
		}
		plan.ScaleUp = a.Max > p.Count
		return plan, nil
	}
	if a.Min == p.MinCount && a.Max == p.MaxCount {
		return aks.Plan{}, invalid(fmt.Sprintf("pool %s is already autoscaled between %d and %d nodes", p.Name, a.Min, a.Max), "nothing to do")
	}
	plan.Summary = fmt.Sprintf("%s: autoscaler %s -> %s nodes", p.Name, rangeString(p.MinCount, p.MaxCount), rangeString(a.Min, a.Max))
	if a.Min != p.MinCount {
		plan.Changes = append(plan.Changes, aks.Change{What: p.Name + " autoscaler min", From: strconv.Itoa(p.MinCount), To: strconv.Itoa(a.Min)})
	}
	if a.Max != p.MaxCount {
		plan.Changes = append(plan.Changes, aks.Change{What: p.Name + " autoscaler max", From: strconv.Itoa(p.MaxCount), To: strconv.Itoa(a.Max)})
	}
	plan.ScaleUp = a.Max > p.MaxCount
	return plan, nil
}

// poolAddSpec is what a nodepool add sends, with defaults filled in.
type poolAddSpec struct {
	count  int
	mode   string
	osType string
	vmSize string
}

func poolAdd(op aks.Operation, cl aks.Cluster) poolAddSpec {
	s := poolAddSpec{count: DefaultNodeCount, mode: modeUser, osType: "Linux", vmSize: op.VMSize}
	if op.Autoscaler != nil {
		s.count = min(max(s.count, op.Autoscaler.Min), op.Autoscaler.Max)
	}
	if op.NodeCount != nil {
		s.count = *op.NodeCount
	}
	if op.Mode != "" {
		s.mode = op.Mode
	}
	if op.OSType != "" {
		s.osType = op.OSType
	}
	if s.vmSize == "" {
		s.vmSize = firstSystemVMSize(cl)
	}
	return s
}

func firstSystemVMSize(cl aks.Cluster) string {
	for _, p := range cl.Pools {
		if strings.EqualFold(p.Mode, modeSystem) && p.VMSize != "" {
			return p.VMSize
		}
	}
	for _, p := range cl.Pools {
		if p.VMSize != "" {
			return p.VMSize
		}
	}
	return DefaultVMSize
}

func planPoolAdd(op aks.Operation, cl aks.Cluster) (aks.Plan, error) {
	t := op.Target
	if t.Pool == "" {
		return aks.Plan{}, invalid("the new pool needs a name", "add --nodepool-name")
	}
	if p, ok := cl.Pool(t.Pool); ok {
		return aks.Plan{}, invalid(fmt.Sprintf("pool %s already exists in %s (%d x %s)", p.Name, clusterName(t), p.Count, p.VMSize),
			"pick another name, or change it with `/aks nodepool scale` or `/aks nodepool update`")
	}
	if len(cl.Pools) >= MaxPools {
		return aks.Plan{}, invalid(fmt.Sprintf("cluster %s already has %d pools, AKS's limit", clusterName(t), len(cl.Pools)), "delete a pool first")
	}
	s := poolAdd(op, cl)
	if !strings.EqualFold(s.mode, modeSystem) && !strings.EqualFold(s.mode, modeUser) {
		return aks.Plan{}, invalid(fmt.Sprintf("unknown pool mode %q", s.mode), "use --mode System or --mode User")
	}
	if strings.EqualFold(s.osType, "Windows") && len(t.Pool) > 6 {
		return aks.Plan{}, invalid(fmt.Sprintf("a Windows pool's name can have at most 6 characters, %q has %d", t.Pool, len(t.Pool)), "pick a shorter --nodepool-name")
	}
	lowest := 0
	if strings.EqualFold(s.mode, modeSystem) {
		lowest = 1
	}
	if s.count < lowest || s.count > MaxPoolNodes {
		return aks.Plan{}, invalid(fmt.Sprintf("a %s pool can have %d to %d nodes, not %d", s.mode, lowest, MaxPoolNodes, s.count), "")
	}
	if a := op.Autoscaler; a != nil {
		if err := checkRange(*a, s.mode); err != nil {
			return aks.Plan{}, err
		}
		if s.count < a.Min || s.count > a.Max {
			return aks.Plan{}, invalid(fmt.Sprintf("--node-count %d is outside the autoscaler's range %s", s.count, rangeString(a.Min, a.Max)), "pick a node count between --min-count and --max-count")
		}
	}
	if total := cl.NodeCount() + s.count; total > MaxClusterNodes {
		return aks.Plan{}, invalid(fmt.Sprintf("the cluster would have %d nodes, over AKS's limit of %d", total, MaxClusterNodes), "use a smaller --node-count")
	}
	summary := fmt.Sprintf("new pool %s: %d x %s nodes (%s, %s)", t.Pool, s.count, s.vmSize, s.mode, s.osType)
	if a := op.Autoscaler; a != nil {
		summary += ", autoscaler " + rangeString(a.Min, a.Max)
	}
	return aks.Plan{
		Summary:   summary,
		Changes:   []aks.Change{{What: t.Pool + " nodes", To: strconv.Itoa(s.count)}},
		ScaleUp:   s.count > 0,
		Pool:      t.Pool,
		FromNodes: 0,
		ToNodes:   s.count,
		VMSize:    s.vmSize,
	}, nil
}

func planPoolDelete(cl aks.Cluster, p aks.Pool) (aks.Plan, error) {
	if strings.EqualFold(p.Mode, modeSystem) {
		systems := 0
		for _, q := range cl.Pools {
			if strings.EqualFold(q.Mode, modeSystem) {
				systems++
			}
		}
		if systems <= 1 {
			return aks.Plan{}, invalid(fmt.Sprintf("pool %s is the cluster's last System pool and cannot be deleted", p.Name),
				"add another System pool first (`/aks nodepool add --mode System`), or delete the whole cluster")
		}
	}
	return aks.Plan{
		Summary:   fmt.Sprintf("delete pool %s (%d x %s nodes)", p.Name, p.Count, p.VMSize),
		Changes:   []aks.Change{{What: p.Name + " nodes", From: strconv.Itoa(p.Count)}},
		FromNodes: p.Count,
		ToNodes:   0,
	}, nil
}

func (c *Client) planPoolUpgrade(ctx context.Context, op aks.Operation, cl aks.Cluster, p aks.Pool) (aks.Plan, error) {
	t := op.Target
	pu, err := c.poolUpgrades(ctx, t.ResourceGroup, t.Cluster, p.Name)
	if err != nil {
		return aks.Plan{}, err
	}
	plan := aks.Plan{FromNodes: -1, ToNodes: -1}
	if op.NodeImageOnly {
		from, to := p.NodeImageVersion, pu.LatestNodeImage
		if from != "" && to != "" && from == to {
			return aks.Plan{}, invalid(fmt.Sprintf("pool %s already runs the latest node image %s", p.Name, to), "nothing to do")
		}
		if from == "" {
			from = "current"
		}
		if to == "" {
			to = "latest"
		}
		plan.Summary = fmt.Sprintf("%s: node image %s -> %s", p.Name, from, to)
		plan.Changes = []aks.Change{{What: p.Name + " node image", From: p.NodeImageVersion, To: pu.LatestNodeImage}}
		return plan, nil
	}
	if op.KubernetesVersion == "" {
		return aks.Plan{}, invalid("which version?", "add --kubernetes-version, or --node-image-only for the latest node image")
	}
	current := p.OrchestratorVersion
	if current == "" {
		current = pu.Version
	}
	if !contains(pu.Upgrades, op.KubernetesVersion) {
		return aks.Plan{}, invalid(fmt.Sprintf("pool %s (Kubernetes %s) cannot be upgraded to %s", p.Name, current, op.KubernetesVersion), possible(pu.Upgrades))
	}
	if compareVersions(op.KubernetesVersion, cl.KubernetesVersion) > 0 {
		return aks.Plan{}, invalid(fmt.Sprintf("a pool cannot run a newer Kubernetes (%s) than the control plane (%s)", op.KubernetesVersion, cl.KubernetesVersion),
			fmt.Sprintf("upgrade the control plane first: `/aks upgrade %s --kubernetes-version %s --control-plane-only`", t.Cluster, op.KubernetesVersion))
	}
	plan.Summary = fmt.Sprintf("%s: Kubernetes %s -> %s", p.Name, current, op.KubernetesVersion)
	plan.Changes = []aks.Change{{What: p.Name + " Kubernetes version", From: current, To: op.KubernetesVersion}}
	return plan, nil
}

// nodesInPools says "2 nodes in 1 pool", with the plurals right.
func nodesInPools(nodes, pools int) string {
	n, p := "nodes", "pools"
	if nodes == 1 {
		n = "node"
	}
	if pools == 1 {
		p = "pool"
	}
	return fmt.Sprintf("%d %s in %d %s", nodes, n, pools, p)
}
