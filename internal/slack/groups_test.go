package slack

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aksbot/aksbot/internal/slack/slacktest"
)

// groups is policy.Groups, restated so that this package does not import policy.
type groups interface {
	Members(ctx context.Context, groupID string) ([]string, error)
}

var _ groups = (*Bot)(nil)

func TestMembers(t *testing.T) {
	ctx := testCtx(t)
	srv := slacktest.NewServer()
	t.Cleanup(srv.Close)
	p := newProxy(t, srv)
	log, _ := logger(t)
	bot, err := New(Config{AppToken: testAppToken, BotToken: testBotToken, APIURL: p.URL, Logger: log}, &handler{}, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	srv.SetUserGroup("SOPS", "U1", "U2")
	srv.SetUserGroup("SEMPTY")

	got, err := bot.Members(ctx, "SOPS")
	if err != nil || !slices.Equal(got, []string{"U1", "U2"}) {
		t.Fatalf("Members(SOPS) = %v, %v", got, err)
	}
	if got, err := bot.Members(ctx, "SEMPTY"); err != nil || len(got) != 0 {
		t.Errorf("Members(SEMPTY) = %v, %v, want no members", got, err)
	}
	// Membership changes show at once: nothing is cached here.
	srv.SetUserGroup("SOPS", "U3")
	if got, err := bot.Members(ctx, "SOPS"); err != nil || !slices.Equal(got, []string{"U3"}) {
		t.Errorf("Members(SOPS) after a change = %v, %v", got, err)
	}

	for name, tc := range map[string]struct {
		group, refuse string
		want          []string
	}{
		"unknown group": {group: "SNONE", want: []string{"SNONE", "no such user group", "check the group ID"}},
		"missing scope": {group: "SOPS", refuse: "missing_scope",
			want: []string{"SOPS", "add the usergroups:read scope to the Slack app (manifest.yaml) and reinstall it"}},
		"other error": {group: "SOPS", refuse: "fatal_error", want: []string{"read members of Slack user group SOPS", "fatal_error"}},
		"empty ID":    {group: "", want: []string{"group ID is empty"}},
	} {
		t.Run(name, func(t *testing.T) {
			p.set("usergroups.users.list", tc.refuse)
			got, err := bot.Members(ctx, tc.group)
			if err == nil {
				t.Fatalf("Members = %v, want an error", got)
			}
			if got != nil {
				t.Errorf("Members returned %v with an error, want none", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
