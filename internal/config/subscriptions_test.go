package config

import (
	"path/filepath"
	"strings"
	"testing"
)

const (
	devID  = "11111111-1111-1111-1111-111111111111"
	prodID = "22222222-2222-2222-2222-222222222222"
)

func TestSubscriptions(t *testing.T) {
	two := "azure:\n  subscriptions:\n    dev: " + devID + "\n    prod: " + prodID + "\n"
	cases := []struct {
		name, file string
		env        map[string]string
		wantDef    string   // default subscription ID
		wantNames  []string // configured names
		wantErr    string
	}{
		{name: "AZURE_SUBSCRIPTION_ID alone, as before", env: map[string]string{EnvSubscriptionID: subID},
			wantDef: subID, wantNames: []string{subID}},
		{name: "named, with a default", file: two + "  defaultSubscription: prod\n", wantDef: prodID, wantNames: []string{"dev", "prod"}},
		{name: "one named needs no default", file: "azure:\n  subscriptions:\n    prod: " + prodID + "\n", wantDef: prodID, wantNames: []string{"prod"}},
		{name: "AZURE_SUBSCRIPTION_ID picks the default among the names", file: two, env: map[string]string{EnvSubscriptionID: devID},
			wantDef: devID, wantNames: []string{"dev", "prod"}},
		{name: "several need a default", file: two, wantErr: "azure.defaultSubscription: must name"},
		{name: "the default must be listed", file: two + "  defaultSubscription: stage\n", wantErr: `azure.defaultSubscription: "stage" is not listed under azure.subscriptions (known: dev, prod)`},
		{name: "IDs are GUIDs", file: "azure:\n  subscriptions:\n    dev: nope\n", wantErr: `azure.subscriptions.dev: "nope" is not a subscription ID`},
		{name: "names are simple words", file: "azure:\n  subscriptions:\n    \"my prod\": " + prodID + "\n", wantErr: `azure.subscriptions.my prod: "my prod" is not a subscription name`},
		{name: "AZURE_SUBSCRIPTION_ID must be listed", file: two + "  defaultSubscription: dev\n", env: map[string]string{EnvSubscriptionID: subID},
			wantErr: "AZURE_SUBSCRIPTION_ID: " + subID + " is not listed under azure.subscriptions"},
		{name: "rules name known subscriptions", file: two + "  defaultSubscription: dev\npolicy:\n  approvers: [U0APPROVER]\n  rules:\n    - name: prod\n      match: {subscriptions: [stage]}\n",
			wantErr: `policy.rules[0].match.subscriptions[0]: "stage" is not a configured subscription (known: dev, prod)`},
		{name: "rules may name IDs and globs", file: two + "  defaultSubscription: dev\npolicy:\n  approvers: [U0APPROVER]\n  rules:\n    - name: prod\n      match: {subscriptions: [pro*, " + devID + "]}\n",
			wantDef: devID, wantNames: []string{"dev", "prod"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := inDir(t)
			if tc.file != "" {
				writeFile(t, filepath.Join(dir, DefaultConfigFile), tc.file)
			}
			c, err := Load(envOf(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.SubscriptionID != tc.wantDef || c.Subscriptions.Default != tc.wantDef {
				t.Errorf("default = %q / %q, want %q", c.SubscriptionID, c.Subscriptions.Default, tc.wantDef)
			}
			if got := strings.Join(c.Subscriptions.Names(), ","); got != strings.Join(tc.wantNames, ",") {
				t.Errorf("names = %s, want %v", got, tc.wantNames)
			}
		})
	}
}
