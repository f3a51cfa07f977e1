package telemetry_test

import (
	"github.com/aksbot/aksbot/internal/azure"
	"github.com/aksbot/aksbot/internal/jobs"
	slackbot "github.com/aksbot/aksbot/internal/slack"
	"github.com/aksbot/aksbot/internal/telemetry"
)

// Metrics is what main hands the engine, the Slack transport and the Azure client: it must keep
// matching their ports. Checked here, in a test, so the package itself depends on none of them.
var (
	_ jobs.Observer    = (*telemetry.Metrics)(nil)
	_ slackbot.Metrics = (*telemetry.Metrics)(nil)
	_ azure.Metrics    = (*telemetry.Metrics)(nil)
)
