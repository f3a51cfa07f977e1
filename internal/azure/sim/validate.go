package sim

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
)

// apiError is an ARM error: the HTTP status it is sent with and the body's error object.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target,omitempty"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalidParam(target, format string, args ...any) *apiError {
	e := errorf(http.StatusBadRequest, "InvalidParameter", format, args...)
	e.Target = target
	return e
}

// AKS limits.
const (
	maxPools        = 100
	maxNodes        = 5000
	maxPoolCount    = 1000
	maxLinuxPoolLen = 12
	maxWinPoolLen   = 6
)

var (
	clusterNameRE = regexp.MustCompile(`^[a-zA-Z0-9]$|^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$`)
	poolNameRE    = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)
)

func validateClusterName(name string) *apiError {
	if !clusterNameRE.MatchString(name) {
		return invalidParam("resourceName", "The value of parameter resourceName is invalid. Managed cluster names must be 1-63 characters of letters, digits, '-' and '_', starting and ending with a letter or digit. Please see https://aka.ms/aks-naming-rules for more details.")
	}
	return nil
}

func validatePoolName(name string, osType armcontainerservice.OSType) *apiError {
	if !poolNameRE.MatchString(name) {
		return invalidParam("agentPoolProfile.name", "The value of parameter agentPoolProfile.name is invalid. Agent pool names must start with a lowercase letter, have max length of 12, and only have characters a-z0-9. Please see https://aka.ms/aks-naming-rules for more details.")
	}
	if osType == armcontainerservice.OSTypeWindows && len(name) > maxWinPoolLen {
		return invalidParam("agentPoolProfile.name", "Windows agent pool name %q can not be longer than %d characters.", name, maxWinPoolLen)
	}
	return nil
}

func isSystem(p *armcontainerservice.ManagedClusterAgentPoolProfileProperties) bool {
	return p.Mode != nil && *p.Mode == armcontainerservice.AgentPoolModeSystem
}

// validatePoolSpec checks a pool's count, autoscaler and VM size for a create or an update.
// old is nil for a create.
func validatePoolSpec(name string, p, old *armcontainerservice.ManagedClusterAgentPoolProfileProperties, location string) *apiError {
	if p.Count == nil {
		return invalidParam("properties.count", "Required parameter properties.count is missing (null).")
	}
	count := int(*p.Count)
	minAllowed := 0
	if isSystem(p) {
		minAllowed = 1
	}
	if count < minAllowed || count > maxPoolCount {
		return invalidParam("agentPoolProfile.count", "The value of parameter agentPoolProfile.count is invalid: %d. It must be between %d and %d for a %s agent pool. Please see https://aka.ms/aks-naming-rules for more details.", count, minAllowed, maxPoolCount, modeWord(p))
	}
	if old == nil {
		size, ok := canonicalVMSize(deref(p.VMSize))
		if !ok {
			return errorf(http.StatusBadRequest, "BadRequest", "The VM size of %s is not allowed in your subscription in location '%s'. The available VM sizes are listed by 'az vm list-skus -l %s'.", deref(p.VMSize), location, location)
		}
		p.VMSize = &size
	} else if !strings.EqualFold(deref(p.VMSize), deref(old.VMSize)) {
		return &apiError{Status: http.StatusBadRequest, Code: "PropertyChangeNotAllowed", Message: "Changing property 'agentPoolProfile.vmSize' is not allowed.", Target: "agentPoolProfile.vmSize"}
	}
	if old != nil && derefOS(p.OSType) != derefOS(old.OSType) {
		return &apiError{Status: http.StatusBadRequest, Code: "PropertyChangeNotAllowed", Message: "Changing property 'agentPoolProfile.osType' is not allowed.", Target: "agentPoolProfile.osType"}
	}

	if deref(p.EnableAutoScaling) {
		if p.MinCount == nil || p.MaxCount == nil {
			return invalidParam("agentPoolProfile.minCount", "Agent pool %s: minCount and maxCount are required when enableAutoScaling is true.", name)
		}
		lo, hi := int(*p.MinCount), int(*p.MaxCount)
		if lo < minAllowed || hi > maxPoolCount || lo > hi {
			return invalidParam("agentPoolProfile.minCount", "Agent pool %s: minCount (%d) and maxCount (%d) are invalid: they must satisfy %d <= minCount <= maxCount <= %d.", name, lo, hi, minAllowed, maxPoolCount)
		}
		if count < lo || count > hi {
			return invalidParam("agentPoolProfile.count", "agentPoolProfile.count was %d. It must be greater or equal to minCount:%d and less than or equal to maxCount:%d.", count, lo, hi)
		}
		if old != nil && old.Count != nil && count != int(*old.Count) {
			return invalidParam("agentPoolProfile.count", "Cannot change the node count of agent pool %s manually while the cluster autoscaler is enabled on it (count %d -> %d). Change minCount and maxCount, or disable the autoscaler first.", name, *old.Count, count)
		}
	} else {
		// The autoscaler's bounds mean nothing without it; AKS drops them.
		p.MinCount, p.MaxCount = nil, nil
	}
	return nil
}

func modeWord(p *armcontainerservice.ManagedClusterAgentPoolProfileProperties) string {
	if isSystem(p) {
		return "System"
	}
	return "User"
}

// validateControlPlaneVersion checks a cluster's requested version against what it runs now
// (current is "" for a create) and returns the resolved patch version.
func validateControlPlaneVersion(requested, current, location string) (string, *apiError) {
	resolved, ok := resolveVersion(requested)
	if !ok {
		return "", errorf(http.StatusBadRequest, "K8sVersionNotSupported", "Version %s is not supported in this region. Please use [az aks get-versions] command to get the supported version list in this region. For more information, please check https://aka.ms/supported-version-list", requested)
	}
	if current == "" || resolved == current {
		return resolved, nil
	}
	allowed := upgradesFrom(current)
	for _, v := range allowed {
		if v == resolved {
			return resolved, nil
		}
	}
	return "", errorf(http.StatusBadRequest, "OperationNotAllowed", "Upgrading Kubernetes version %s to %s is not allowed. Available upgrades: [%s]. Please see https://aka.ms/aks-supported-k8s-ver for version details.", current, resolved, strings.Join(allowed, " "))
}

// validatePoolVersion checks a pool's orchestrator version against the control plane's and,
// for an existing pool, against the version it runs now.
func validatePoolVersion(pool, requested, current, controlPlane string) (string, *apiError) {
	resolved, ok := resolveVersion(requested)
	if requested == "" {
		resolved, ok = controlPlane, true
	}
	if !ok {
		return "", errorf(http.StatusBadRequest, "K8sVersionNotSupported", "Version %s is not supported in this region. Please use [az aks get-versions] command to get the supported version list in this region.", requested)
	}
	if compareVersions(resolved, controlPlane) > 0 {
		return "", errorf(http.StatusBadRequest, "NodePoolMcVersionIncompatible", "Node pool version %s and control plane version %s are incompatible. Minor version of node pool version %d is bigger than control plane version %d. For more information, please check https://aka.ms/version-skew-policy.", resolved, controlPlane, minorNumber(resolved), minorNumber(controlPlane))
	}
	if minorNumber(controlPlane)-minorNumber(resolved) > 3 {
		return "", errorf(http.StatusBadRequest, "NodePoolMcVersionIncompatible", "Node pool version %s and control plane version %s are incompatible. Minor version of node pool cannot be more than 3 versions less than control plane's version. For more information, please check https://aka.ms/version-skew-policy.", resolved, controlPlane)
	}
	if current == "" || resolved == current {
		return resolved, nil
	}
	if compareVersions(resolved, current) < 0 {
		return "", errorf(http.StatusBadRequest, "OperationNotAllowed", "Downgrading agent pool %s from version %s to %s is not allowed.", pool, current, resolved)
	}
	if minorNumber(resolved) > minorNumber(current)+1 {
		return "", errorf(http.StatusBadRequest, "OperationNotAllowed", "Upgrade agent pool version from %s to %s is not allowed, you can only upgrade one minor version at a time. Please use [az aks get-upgrades] command to get the supported upgrade paths. For more information, please check https://aka.ms/version-skew-policy", current, resolved)
	}
	return resolved, nil
}

// checkLimits enforces the per-cluster pool and node limits on the pools as they would be.
func checkLimits(pools []*armcontainerservice.AgentPool) *apiError {
	if len(pools) > maxPools {
		return errorf(http.StatusBadRequest, "OperationNotAllowed", "The number of agent pools (%d) exceeds the maximum of %d agent pools per managed cluster.", len(pools), maxPools)
	}
	nodes := 0
	system := 0
	for _, p := range pools {
		n := int(deref(p.Properties.Count))
		if deref(p.Properties.EnableAutoScaling) {
			// The autoscaler may grow the pool to its max: AKS counts that against the quota.
			n = max(n, int(deref(p.Properties.MaxCount)))
		}
		nodes += n
		if isSystem(p.Properties) {
			system++
		}
	}
	if nodes > maxNodes {
		return invalidParam("agentPoolProfile.count", "The total number of nodes (%d) exceeds the maximum of %d nodes per managed cluster.", nodes, maxNodes)
	}
	if system == 0 {
		return errorf(http.StatusBadRequest, "OperationNotAllowed", "There has to be at least one system agent pool.")
	}
	return nil
}

// busyError is AKS's answer to a mutation while another operation runs on the cluster.
func busyError(state string) *apiError {
	return errorf(http.StatusConflict, "OperationNotAllowed", "Another operation (%s) is in progress, please wait for it to finish before starting a new operation.", state)
}

func stoppedError(name string) *apiError {
	return errorf(http.StatusBadRequest, "OperationNotAllowed", "Managed cluster %s is in Provisioning State(Succeeded) and Power State(Stopped), the operation cannot be performed. Please start the cluster first.", name)
}
