package commands

import (
	"strconv"
	"strings"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// String writes the command in canonical form, without "/aks" or "/eks": positional arguments
// first, then flags by their long names (-g and -l short). Parse (ParseEKS for an /eks command)
// reads it back to the same Command, so it is what the bot can echo as "you asked for".
func (c Command) String() string {
	sp, ok := specByKind(c.Kind)
	if !ok {
		return string(c.Kind)
	}
	if c.Kind == KindSchedule && c.Schedule != nil {
		return c.scheduleString()
	}
	w := []string{sp.name()}
	if c.Kind == KindHelp {
		if c.Topic != "" {
			w = append(w, c.Topic)
		}
		return strings.Join(w, " ")
	}
	var op aks.Operation
	if c.Op != nil {
		op = *c.Op
	}
	for _, slot := range sp.positionals() {
		if slot == slotCluster && c.Cluster == "" {
			continue // policy and audit without a cluster
		}
		switch slot {
		case slotCluster:
			w = append(w, quote(c.Cluster))
		case slotPool:
			w = append(w, quote(op.Target.Pool))
		case slotNodegroup:
			w = append(w, quote(c.Nodegroup))
		case slotID:
			w = append(w, quote(c.JobID))
		}
	}
	if c.ResourceGroup != "" {
		w = append(w, "-g", quote(c.ResourceGroup))
	}
	if c.Location != "" {
		w = append(w, "-l", quote(c.Location))
	}
	if c.Region != "" {
		w = append(w, fRegion, quote(c.Region))
	}
	if c.All {
		w = append(w, fAll)
	}
	if c.DryRun {
		w = append(w, fDryRun)
	}
	if c.Subscription != "" {
		w = append(w, fSubscription, quote(c.Subscription))
	}
	if c.AllSubscriptions {
		w = append(w, fAllSubs)
	}
	if c.Pool != "" {
		w = append(w, fPoolName, quote(c.Pool))
	}
	if c.Kind == KindAudit && c.Since != defaultAuditSpan {
		w = append(w, fSince, formatSpan(c.Since))
	}
	if c.Reason != "" {
		w = append(w, reasonText(c.Reason))
	}
	if op.Kind == aks.OpPoolScale && len(sp.args) == 1 && op.Target.Pool != "" {
		w = append(w, fPoolName, quote(op.Target.Pool))
	}
	if op.NodeCount != nil {
		w = append(w, fNodeCount, strconv.Itoa(*op.NodeCount))
	}
	if op.VMSize != "" {
		w = append(w, fVMSize, quote(op.VMSize))
	}
	if op.KubernetesVersion != "" {
		w = append(w, fK8sVersion, quote(op.KubernetesVersion))
	}
	if op.ControlPlaneOnly {
		w = append(w, fControlPlane)
	}
	if op.NodeImageOnly {
		w = append(w, fNodeImage)
	}
	if op.Mode != "" {
		w = append(w, fMode, quote(op.Mode))
	}
	if op.OSType != "" {
		w = append(w, fOSType, quote(op.OSType))
	}
	if op.Autoscaler != nil {
		w = append(w, fEnableAS, fMinCount, strconv.Itoa(op.Autoscaler.Min), fMaxCount, strconv.Itoa(op.Autoscaler.Max))
	}
	if op.DisableAutoscaler {
		w = append(w, fDisableAS)
	}
	w = appendList(w, fZones, op.Zones)
	w = appendPairs(w, fTags, op.Tags)
	w = appendPairs(w, fLabels, op.Labels)
	taintFlag := fTaints
	if op.Kind.Provider() == aks.ProviderEKS {
		taintFlag = fEKSTaints
	}
	w = appendList(w, taintFlag, op.Taints)
	if ng := op.Nodegroup; ng != nil {
		w = appendSize(w, fDesiredSize, ng.DesiredSize)
		w = appendSize(w, fMinSize, ng.MinSize)
		w = appendSize(w, fMaxSize, ng.MaxSize)
		if ng.ReleaseVersion != "" {
			w = append(w, fReleaseVersion, quote(ng.ReleaseVersion))
		}
		if ng.Force {
			w = append(w, fForce)
		}
		if ng.NodeRole != "" {
			w = append(w, fNodeRole, quote(ng.NodeRole))
		}
		w = appendList(w, fSubnets, ng.Subnets)
		w = appendList(w, fInstanceTypes, ng.InstanceTypes)
		if ng.CapacityType != "" {
			w = append(w, fCapacityType, quote(ng.CapacityType))
		}
		if ng.AMIType != "" {
			w = append(w, fAMIType, quote(ng.AMIType))
		}
	}
	return strings.Join(w, " ")
}

func appendList(w []string, flag string, vals []string) []string {
	if len(vals) == 0 {
		return w
	}
	w = append(w, flag)
	for _, v := range vals {
		w = append(w, quote(v))
	}
	return w
}

func appendSize(w []string, flag string, n *int) []string {
	if n == nil {
		return w
	}
	return append(w, flag, strconv.Itoa(*n))
}

func appendPairs(w []string, flag string, m map[string]string) []string {
	if len(m) == 0 {
		return w
	}
	w = append(w, flag)
	for _, k := range aks.SortedKeys(m) {
		w = append(w, quote(k+"="+m[k]))
	}
	return w
}

// formatSpan writes a --since value that parseSpan reads back: whole days as "7d", the rest as
// a Go duration.
func formatSpan(d time.Duration) string {
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String() // "36h0m0s": the zero minutes and seconds are noise
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// reasonText writes deny's reason so that the parser reads it back unchanged: as typed when
// that works, else as one quoted string (a reason that itself starts with a quote, or that
// would read as --help).
func reasonText(reason string) string {
	raw := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(reason)
	if c, err := Parse(string(KindDeny) + " 1 " + raw); err == nil && c.Kind == KindDeny && c.Reason == reason {
		return raw
	}
	return quote(reason)
}
