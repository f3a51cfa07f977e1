package console

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/aksbot/aksbot/internal/aks"
	"github.com/aksbot/aksbot/internal/chatops"
)

// recorder is a chatops.Handler that answers every command with what it was sent.
type recorder struct {
	mu   sync.Mutex
	reqs []chatops.Request
}

func (r *recorder) Command(_ context.Context, req chatops.Request) chatops.Reply {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return chatops.Reply{Text: "got " + req.Command + " " + req.Text}
}

func (r *recorder) Decide(context.Context, string, aks.User, bool, string) chatops.Reply {
	return chatops.Reply{}
}

func (r *recorder) CanDecide(context.Context, string, aks.User) chatops.Reply { return chatops.Reply{} }

func TestSlashCommandsReachTheHandlerWithTheirName(t *testing.T) {
	h := &recorder{}
	var out strings.Builder
	c := New(h, &out, Options{User: "ann"})
	script := "/eks nodegroup scale web-prod ng-web --nodes 3\neks list\n/aks list\nAKS jobs\n/as bob\n/EKS jobs\nkubectl get nodes\n"
	if err := c.Run(context.Background(), strings.NewReader(script)); err != nil {
		t.Fatal(err)
	}
	want := []chatops.Request{
		{User: aks.User{ID: "ann", Name: "ann"}, Channel: Channel, Command: "/eks", Text: "nodegroup scale web-prod ng-web --nodes 3"},
		{User: aks.User{ID: "ann", Name: "ann"}, Channel: Channel, Command: "/eks", Text: "list"},
		{User: aks.User{ID: "ann", Name: "ann"}, Channel: Channel, Command: "/aks", Text: "list"},
		{User: aks.User{ID: "ann", Name: "ann"}, Channel: Channel, Command: "/aks", Text: "jobs"},
		{User: aks.User{ID: "bob", Name: "bob"}, Channel: Channel, Command: "/eks", Text: "jobs"},
	}
	if len(h.reqs) != len(want) {
		t.Fatalf("handler got %d requests, want %d: %+v", len(h.reqs), len(want), h.reqs)
	}
	for i := range want {
		if h.reqs[i] != want[i] {
			t.Errorf("request %d = %+v, want %+v", i, h.reqs[i], want[i])
		}
	}
	text := out.String()
	for _, s := range []string{"/eks help", "got /eks list", "Not a command. Type /aks help or /eks help"} {
		if !strings.Contains(text, s) {
			t.Errorf("console output lacks %q:\n%s", s, text)
		}
	}
}

// A running job's status line names the cloud it runs in.
func TestStatusNamesTheCloud(t *testing.T) {
	job := aks.Job{State: aks.StateRunning, ProvisioningState: "Updating",
		Op: aks.Operation{Target: aks.Target{Provider: aks.ProviderEKS, Region: "eu-west-1", Cluster: "web-prod"}}}
	if got := status(job); got != "running (EKS: Updating)" {
		t.Errorf("EKS job: %q", got)
	}
	job.Op.Target = aks.Target{ResourceGroup: "rg", Cluster: "demo"}
	if got := status(job); got != "running (Azure: Updating)" {
		t.Errorf("AKS job: %q", got)
	}
}
