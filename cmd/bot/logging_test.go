package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aksbot/aksbot/internal/config"
	"github.com/aksbot/aksbot/internal/slack/slacktest"
)

func TestLoggerFormatFollowsTheTerminal(t *testing.T) {
	var b bytes.Buffer
	log, err := newLoggerFor(&b, false, config.ModeSlack, "", "")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello", "job", "7")
	var rec map[string]any
	if err := json.Unmarshal(b.Bytes(), &rec); err != nil || rec["msg"] != "hello" || rec["job"] != "7" || rec["level"] != "INFO" {
		t.Errorf("not a JSON record (%v): %s", err, b.String())
	}

	b.Reset()
	log, _ = newLoggerFor(&b, true, config.ModeSlack, "", "")
	log.Info("hello", "job", "7")
	if got := b.String(); !strings.Contains(got, "level=INFO msg=hello job=7") {
		t.Errorf("terminal log is not text: %q", got)
	}

	// A real file is not a terminal: JSON.
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log, _ = newLogger(f, config.ModeConsole, "", "")
	log.Warn("careful")
	data, _ := os.ReadFile(f.Name())
	if err := json.Unmarshal(data, &rec); err != nil || rec["msg"] != "careful" {
		t.Errorf("log to a file is not JSON (%v): %s", err, data)
	}
}

func TestLoggerNamesTheReplica(t *testing.T) {
	var b bytes.Buffer
	log, err := newLoggerFor(&b, false, config.ModeSlack, "", "aksbot-0")
	if err != nil {
		t.Fatal(err)
	}
	log.With("component", "azure").Warn("throttled")
	var rec map[string]any
	if err := json.Unmarshal(b.Bytes(), &rec); err != nil || rec["replica"] != "aksbot-0" || rec["component"] != "azure" {
		t.Errorf("JSON record does not name the replica (%v): %s", err, b.String())
	}

	b.Reset()
	log, _ = newLoggerFor(&b, true, config.ModeSlack, "", "aksbot-0")
	log.Info("hello")
	if got := b.String(); !strings.Contains(got, "replica=aksbot-0") {
		t.Errorf("terminal log does not name the replica: %q", got)
	}

	b.Reset()
	log, _ = newLoggerFor(&b, false, config.ModeSlack, "", "")
	log.Info("hello")
	if strings.Contains(b.String(), "replica") {
		t.Errorf("an empty replica ID is logged: %s", b.String())
	}
}

func TestLoggerLevel(t *testing.T) {
	tests := []struct {
		mode             config.Mode
		level            string
		wantInfo, wantDb bool
	}{
		{config.ModeSlack, "", true, false},
		{config.ModeConsole, "", false, false}, // the chat stays readable
		{config.ModeConsole, "debug", true, true},
		{config.ModeSlack, " WARN ", false, false},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		log, err := newLoggerFor(&b, true, tt.mode, tt.level, "")
		if err != nil {
			t.Fatalf("%s %q: %v", tt.mode, tt.level, err)
		}
		log.Debug("d")
		log.Info("i")
		log.Warn("w")
		got := b.String()
		if strings.Contains(got, "msg=i") != tt.wantInfo || strings.Contains(got, "msg=d") != tt.wantDb || !strings.Contains(got, "msg=w") {
			t.Errorf("%s %q logged:\n%s", tt.mode, tt.level, got)
		}
	}
	if _, err := newLoggerFor(&bytes.Buffer{}, false, config.ModeSlack, "loud", ""); err == nil {
		t.Error("an unknown level was accepted")
	}
}

// A short Slack run, started as main starts it: every log line on (non-terminal) stderr is JSON
// and names the replica, and neither token set through the environment appears.
func TestSlackRunLogsJSONWithoutTokens(t *testing.T) {
	sl := slacktest.NewServer(slacktest.WithAppToken(appToken), slacktest.WithBotToken(botToken))
	t.Cleanup(sl.Close)
	env := slackEnv(t, sl.APIURL())
	env["AKSBOT_LOG_LEVEL"] = "debug"
	env["AKSBOT_REPLICA_ID"] = "aksbot-7f9c"

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, nil, func(k string) string { return env[k] }, strings.NewReader(""), &bytes.Buffer{}, logs)
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := sl.Connected(wctx); err != nil {
		t.Fatalf("the bot did not connect: %v\n%s", err, logs.String())
	}
	if _, err := sl.SendSlash(wctx, slacktest.Slash{User: requester, UserName: "req", Channel: channel, Text: "create demo2"}); err != nil {
		t.Fatal(err)
	}
	if err := sl.WaitFor(wctx, func() bool { return len(sl.Messages(channel)) > 0 }); err != nil {
		t.Fatalf("no job message: %v", err)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the bot did not stop")
	}

	out := logs.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 {
		t.Fatalf("too few log lines for a run at debug level:\n%s", out)
	}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec["msg"] == nil {
			t.Errorf("not a JSON log record: %q", l)
		} else if rec["replica"] != "aksbot-7f9c" {
			t.Errorf("log record without the replica ID from AKSBOT_REPLICA_ID: %q", l)
		}
	}
	for _, secret := range []string{appToken, botToken} {
		if strings.Contains(out, secret) {
			t.Errorf("a Slack token appears in the logs")
		}
	}
	if !strings.Contains(out, `"slackBotToken":"set"`) {
		t.Errorf("the configuration was not logged (the leak check would prove little):\n%s", out)
	}
}

// A token Slack refuses stops the bot with exit 1 and a log line that names the token and the
// fix, not its value.
func TestRefusedSlackTokenExitsNonZero(t *testing.T) {
	sl := slacktest.NewServer(slacktest.WithAppToken(appToken), slacktest.WithBotToken("xoxb-the-one-slack-knows"))
	t.Cleanup(sl.Close)
	env := slackEnv(t, sl.APIURL())
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), nil, func(k string) string { return env[k] }, strings.NewReader(""), &bytes.Buffer{}, logs)
	}()
	select {
	case code := <-done:
		if code != exitFailure {
			t.Errorf("exit %d with a refused bot token, want %d\n%s", code, exitFailure, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the bot kept running with a refused token")
	}
	out := logs.String()
	if !strings.Contains(out, "SLACK_BOT_TOKEN") || !strings.Contains(out, "invalid_auth") {
		t.Errorf("the log does not say which token Slack refused and why:\n%s", out)
	}
	if strings.Contains(out, botToken) {
		t.Error("the log contains the token's value")
	}
}
