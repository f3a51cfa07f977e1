package telemetry_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/slack-go/slack"

	"github.com/aksbot/aksbot/internal/telemetry"
)

func ExampleMetrics_WriteTo() {
	m := telemetry.NewMetrics()
	m.OutboxDepth(3)
	m.SlackCall("chat.postMessage", nil)
	m.SlackCall("chat.postMessage", &slack.RateLimitedError{RetryAfter: time.Second})

	var b strings.Builder
	if _, err := m.WriteTo(&b); err != nil {
		panic(err)
	}
	for line := range strings.Lines(b.String()) {
		if strings.HasPrefix(line, "aksbot_slack_api") || strings.HasPrefix(line, "aksbot_slack_outbox") {
			os.Stdout.WriteString(line)
		}
	}
	// Output:
	// aksbot_slack_api_calls_total{method="chat.postMessage",result="ok"} 1
	// aksbot_slack_api_calls_total{method="chat.postMessage",result="ratelimited"} 1
	// aksbot_slack_outbox_depth 3
}

// Wiring in main: one Metrics shared by the adapters, the ARM policy in the
// Azure client options, and the server run alongside the bot.
func ExampleNewServer() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()

	m := telemetry.NewMetrics()
	armOpts := &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		PerRetryPolicies: []policy.Policy{telemetry.ARMPolicy(m)},
	}}
	_ = armOpts // passed to armcontainerservice.NewClientFactory

	storeWritable := telemetry.WriteProbe(func() error { return nil }) // e.g. a bbolt Update of a health key
	srv := telemetry.NewServer("127.0.0.1:0", m, map[string]telemetry.Check{"store": storeWritable}, slog.New(slog.DiscardHandler))
	if err := srv.Run(ctx); err != nil {
		panic(err)
	}
}
