package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/aksbot/aksbot/internal/config"
)

const (
	// envLogLevel overrides the default log level.
	envLogLevel = "AKSBOT_LOG_LEVEL"
)

// newLogger logs to w (stderr): text for a person when w is a terminal, JSON for machines
// otherwise (a container's logs, a file, a pipe). The level is info, except in the console,
// where the terminal is also the chat and only warnings and errors should interrupt it; level
// (AKSBOT_LOG_LEVEL) overrides both. Every record carries replica (see replicaID) unless it is
// empty: with several replicas writing to one log store, it says which one acted.
func newLogger(w io.Writer, mode config.Mode, level, replica string) (*slog.Logger, error) {
	return newLoggerFor(w, writerIsTerminal(w), mode, level, replica)
}

func newLoggerFor(w io.Writer, terminal bool, mode config.Mode, level, replica string) (*slog.Logger, error) {
	lvl := slog.LevelInfo
	if mode == config.ModeConsole {
		lvl = slog.LevelWarn
	}
	if level = strings.TrimSpace(level); level != "" {
		if err := lvl.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("%s: %q is not a log level; use debug, info, warn or error", envLogLevel, level)
		}
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if terminal {
		h = slog.NewTextHandler(w, opts)
	}
	log := slog.New(h)
	if replica != "" {
		log = log.With("replica", replica)
	}
	return log, nil
}

// writerIsTerminal reports whether w is a character device such as a terminal. Buffers, pipes
// and files are not.
func writerIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
