package charttest

import (
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
)

// TestHelmLint runs `helm lint`'s rules (Chart.yaml, values, templates, deprecated APIs) on both
// store modes and with EKS (IRSA); warnings fail the test as they would fail `helm lint --strict`.
func TestHelmLint(t *testing.T) {
	for mode, vals := range map[string]map[string]any{"bbolt": base(), "etcd": etcdValues(nil), "eks": awsValues(irsa)} {
		for _, m := range lint.RunAll(chartDir, vals, "aksbot").Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("%s: helm lint: %s", mode, m)
			} else {
				t.Logf("%s: helm lint: %s", mode, m)
			}
		}
	}
}
