package azure

import (
	"strings"

	"github.com/aksbot/aksbot/internal/aks"
)

// capacity says what a planned operation changes in what the cluster runs (cl is nil for a
// create): every pool whose nodes change, and the control-plane tier. Operations that change
// no capacity (upgrades) get nil. The cost and quota preflight read it.
func capacity(op aks.Operation, cl *aks.Cluster, plan aks.Plan) *aks.Capacity {
	if op.Kind == aks.OpClusterCreate {
		lo, hi := plan.ToNodes, plan.ToNodes
		if a := op.Autoscaler; a != nil {
			lo, hi = a.Min, a.Max
		}
		return &aks.Capacity{Location: plan.Location, TierTo: "Free", Nodes: []aks.NodeChange{{
			Pool: plan.Pool, VMSize: plan.VMSize, OSType: "Linux", Zones: op.Zones, ToMin: lo, ToMax: hi, New: true,
		}}}
	}
	if cl == nil {
		return nil
	}
	tier := cl.Tier
	if tier == "" {
		tier = "Free"
	}
	c := &aks.Capacity{Location: plan.Location, TierFrom: tier, TierTo: tier}
	stopped := strings.EqualFold(cl.PowerState, "Stopped")
	each := func(f func(p aks.Pool, ch *aks.NodeChange)) {
		for _, p := range cl.Pools {
			ch := change(p, stopped)
			f(p, &ch)
			c.Nodes = append(c.Nodes, ch)
		}
	}
	switch op.Kind {
	case aks.OpClusterDelete:
		c.TierTo = ""
		each(func(_ aks.Pool, ch *aks.NodeChange) { ch.ToMin, ch.ToMax = 0, 0 })
	case aks.OpClusterStop:
		each(func(_ aks.Pool, ch *aks.NodeChange) { ch.ToMin, ch.ToMax = 0, 0 })
	case aks.OpClusterStart:
		each(func(p aks.Pool, ch *aks.NodeChange) {
			ch.FromMin, ch.FromMax = 0, 0
			ch.ToMin, ch.ToMax = nodeRange(p)
		})
	case aks.OpPoolAdd:
		s := poolAdd(op, *cl)
		lo, hi := s.count, s.count
		if a := op.Autoscaler; a != nil {
			lo, hi = a.Min, a.Max
		}
		each(func(aks.Pool, *aks.NodeChange) {})
		c.Nodes = append(c.Nodes, aks.NodeChange{Pool: op.Target.Pool, VMSize: s.vmSize, OSType: s.osType, Zones: op.Zones, ToMin: lo, ToMax: hi, New: true})
	case aks.OpPoolScale, aks.OpPoolAutoscale, aks.OpPoolDelete:
		if _, ok := cl.Pool(plan.Pool); !ok {
			return nil
		}
		each(func(p aks.Pool, ch *aks.NodeChange) {
			if strings.EqualFold(p.Name, plan.Pool) {
				poolChange(op, p, stopped, ch)
			}
		})
	default:
		return nil
	}
	return c
}

// poolChange sets what a pool operation makes of pool p.
func poolChange(op aks.Operation, p aks.Pool, stopped bool, ch *aks.NodeChange) {
	switch {
	case op.Kind == aks.OpPoolDelete:
		ch.ToMin, ch.ToMax = 0, 0
	case op.Kind == aks.OpPoolScale && op.NodeCount != nil:
		ch.ToMin, ch.ToMax = *op.NodeCount, *op.NodeCount
	case op.DisableAutoscaler:
		ch.ToMin, ch.ToMax = p.Count, p.Count
	case op.Autoscaler != nil:
		ch.ToMin, ch.ToMax = op.Autoscaler.Min, op.Autoscaler.Max
	}
	if stopped {
		ch.ToMin, ch.ToMax = 0, 0 // a stopped cluster runs nothing until it is started
	}
}

// change is a pool as it runs now, unchanged: the caller sets what the operation makes of it.
func change(p aks.Pool, stopped bool) aks.NodeChange {
	ch := aks.NodeChange{Pool: p.Name, VMSize: p.VMSize, OSType: p.OSType, Zones: p.Zones}
	if !stopped {
		ch.FromMin, ch.FromMax = nodeRange(p)
		ch.Running = p.Count
	}
	ch.ToMin, ch.ToMax = ch.FromMin, ch.FromMax
	return ch
}

// nodeRange is a pool's size: its count, or its autoscaler's range.
func nodeRange(p aks.Pool) (int, int) {
	if p.Autoscaling && p.MaxCount > 0 {
		return p.MinCount, p.MaxCount
	}
	return p.Count, p.Count
}
