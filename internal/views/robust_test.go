package views

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/aks"
)

// hostile returns a value of about n bytes with everything that could break a view: line
// breaks, code fences, Slack control sequences and multi-byte runes.
func hostile(n int) string {
	const unit = "a\nb```<!channel>&é日本`"
	return strings.Repeat(unit, n/len(unit)+1)
}

func TestTableCellsCannotBreakTheTable(t *testing.T) {
	c := demoCluster()
	c.Pools[1].VMSize = "Standard\n```\n<!here>"
	got := PoolList(c)
	checkMessage(t, got)
	rows := tableRows(t, got)
	if len(rows) != 4 {
		t.Fatalf("table has %d lines, want header and 3 pools:\n%s", len(rows), got)
	}
	if !strings.Contains(rows[2], "Standard ''' &lt;!here&gt;") {
		t.Errorf("cell not made safe: %q", rows[2])
	}
}

// TestViewsStayUnderLimitWithHostileInput fills every free-text field with long hostile values:
// each view must still be a single valid message.
func TestViewsStayUnderLimitWithHostileInput(t *testing.T) {
	c := hundredPools()
	c.FQDN = hostile(2000)
	c.Tags = map[string]string{}
	for i := 0; i < 200; i++ {
		c.Tags[fmt.Sprintf("k%d", i)] = hostile(100)
	}
	for i := range c.Pools {
		c.Pools[i].Taints = []string{hostile(500)}
		c.Pools[i].NodeImageVersion = hostile(200)
	}
	u := aks.Upgrades{ControlPlaneVersion: "1.30.4"}
	for i := 0; i < 500; i++ {
		u.ControlPlane = append(u.ControlPlane, fmt.Sprintf("1.%d.0", i))
	}
	u.Pools = []aks.PoolUpgrade{{Pool: "p", Version: "1.30.4", Upgrades: u.ControlPlane, LatestNodeImage: hostile(3000)}}

	j := failedJob()
	j.Plan.Summary = hostile(5000)
	for i := 0; i < 100; i++ {
		j.Plan.Changes = append(j.Plan.Changes, aks.Change{What: hostile(400), From: "1", To: "2"})
	}
	for i := 0; i < 50; i++ {
		j.Decisions = append(j.Decisions, aks.Decision{By: aks.User{ID: "U9"}, At: now, Reason: hostile(1000)})
	}
	j.Error.Message = hostile(20000)
	j.Error.Hint = hostile(5000)
	var evs []aks.Event
	for i := 0; i < 300; i++ {
		evs = append(evs, aks.Event{Seq: int64(i + 1), At: now.Add(-time.Duration(300-i) * time.Second), Kind: aks.EventProgress, Message: hostile(800)})
	}

	views := map[string]string{
		"ClusterList":   ClusterList("", []aks.Cluster{c, c, c}),
		"ClusterDetail": ClusterDetail(c),
		"PoolList":      PoolList(c),
		"Upgrades":      Upgrades("demo", u),
		"JobLine":       JobLine(j, now),
		"JobList":       JobList([]aks.Job{j, j, j, j}, now, true),
		"JobDetail":     JobDetail(j, evs, now),
	}
	for name, s := range views {
		t.Run(name, func(t *testing.T) { checkMessage(t, s) })
	}
}
