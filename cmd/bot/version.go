package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is the release, set at build time:
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/bot
//
// Without it the module version from the build info is shown ("(devel)" for a build from a
// checkout).
var version string

const versionHelp = `Prints aksbot's version (set at build time with -ldflags "-X main.version=..."), the module
version, the VCS revision and commit time it was built from, and the Go version.`

func runVersion(_ context.Context, inv *invocation, _ []string) int {
	bi, _ := debug.ReadBuildInfo()
	writeVersion(inv.stdout, version, bi)
	return exitOK
}

// writeVersion writes one "key value" line per fact; bi may be nil (a binary built without
// module support).
func writeVersion(w io.Writer, release string, bi *debug.BuildInfo) {
	module, modVersion := "github.com/aksbot/aksbot", "unknown"
	settings := map[string]string{}
	goVersion := runtime.Version()
	if bi != nil {
		if bi.Main.Path != "" {
			module = bi.Main.Path
		}
		if bi.Main.Version != "" {
			modVersion = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
	}
	if release == "" {
		release = modVersion
	}
	revision := "unknown (built without VCS information)"
	if r := settings["vcs.revision"]; r != "" {
		revision = r
		if settings["vcs.modified"] == "true" {
			revision += " (with uncommitted changes)"
		}
	}
	commitTime := settings["vcs.time"]
	if commitTime == "" {
		commitTime = "unknown"
	}
	fmt.Fprintf(w, "aksbot %s\n", release)
	fmt.Fprintf(w, "module     %s %s\n", module, modVersion)
	fmt.Fprintf(w, "revision   %s\n", revision)
	fmt.Fprintf(w, "committed  %s\n", commitTime)
	fmt.Fprintf(w, "go         %s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
}
