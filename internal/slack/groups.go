package slack

import (
	"context"
	"errors"
	"fmt"

	"github.com/slack-go/slack"
)

// Members returns the user IDs of the Slack user group groupID (an S... ID), as
// usergroups.users.list answers now. It satisfies policy.Groups. It does not cache: callers
// that ask often keep the answer for a while. On an error, callers must treat the group as
// having no members (fail closed); the error says what to fix.
func (b *Bot) Members(ctx context.Context, groupID string) ([]string, error) {
	if groupID == "" {
		return nil, errors.New("read members of a Slack user group: the group ID is empty: set it in the configuration")
	}
	users, err := b.api.GetUserGroupMembersContext(ctx, groupID)
	b.metrics.SlackCall("usergroups.users.list", callResult(err))
	if err == nil {
		return users, nil
	}
	if se, ok := errors.AsType[slack.SlackErrorResponse](err); ok {
		switch se.Err {
		case "missing_scope":
			return nil, fmt.Errorf("read members of Slack user group %s: the Slack app may not read user groups: add the usergroups:read scope to the Slack app (manifest.yaml) and reinstall it: %w", groupID, err)
		case "no_such_subteam":
			return nil, fmt.Errorf("read members of Slack user group %s: no such user group in this workspace: check the group ID in the configuration (in Slack: People, User groups, the group, Copy group ID): %w", groupID, err)
		}
	}
	return nil, fmt.Errorf("read members of Slack user group %s: %w", groupID, err)
}
