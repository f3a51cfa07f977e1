package telemetry_test

import (
	"github.com/aksbot/aksbot/internal/jobs"
	slackbot "github.com/aksbot/aksbot/internal/slack"
	"github.com/aksbot/aksbot/internal/telemetry"
)

// Metrics is what main hands the engine and the Slack transport: it must keep matching both
// ports. Checked here, in a test, so the package itself depends on neither.
var (
	_ jobs.Observer    = (*telemetry.Metrics)(nil)
	_ slackbot.Metrics = (*telemetry.Metrics)(nil)
)
