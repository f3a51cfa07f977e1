package config_test

import (
	"fmt"

	"github.com/aksbot/aksbot/internal/config"
)

// A complete configuration file. Every key is optional; the values shown for jobs and simulator
// are the defaults.
func ExampleParse() {
	f, err := config.Parse([]byte(`
azure:
  resourceGroup: rg-aks
  location: westeurope
policy:
  approvers: [U012AB3CD, U045EF6GH] # Slack member IDs (profile -> ... -> Copy member ID)
  requesters: []                    # empty: anyone may request
  channels: [C0OPS1234]             # empty: any channel
  requireApproval: true
jobs:
  pollInterval: 15s
  progressInterval: 1m
simulator:
  speed: 1
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Azure.ResourceGroup, f.Azure.Location, f.Policy.Approvers, f.Policy.Channels, f.Jobs.PollInterval, f.Simulator.Speed)

	_, err = config.Parse([]byte("policy:\n  approvers: [U012AB3CD, bob]\n"))
	fmt.Println(err)
	// Output:
	// rg-aks westeurope [U012AB3CD U045EF6GH] [C0OPS1234] 15s 1
	// policy.approvers[1]: "bob" is not a Slack user ID (U… or W…) or user group ID (S…)
}
