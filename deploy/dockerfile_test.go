package deploy_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// stage is one FROM and the instructions after it.
type stage struct {
	image, name string
	ins         []instruction
}

func parseDockerfile(t *testing.T, file string) []stage {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("open Dockerfile: %v", err)
	}
	defer f.Close()
	var stages []stage
	var line strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "#") || (text == "" && line.Len() == 0) {
			continue
		}
		if cont, ok := strings.CutSuffix(text, "\\"); ok {
			line.WriteString(cont + " ")
			continue
		}
		line.WriteString(text)
		cmd, args, _ := strings.Cut(line.String(), " ")
		line.Reset()
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			fields := strings.Fields(in.args)
			s := stage{image: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				s.name = fields[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("instruction %s before the first FROM", in.cmd)
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read Dockerfile: %v", err)
	}
	return stages
}

func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join("..", "Dockerfile"))
	if len(stages) != 2 {
		t.Fatalf("want a builder and a final stage, got %d stages", len(stages))
	}
	build, final := stages[0], stages[1]
	if !strings.HasPrefix(build.image, "golang:1.26") || build.name == "" {
		t.Errorf("builder is %q as %q, want a named golang:1.26 stage", build.image, build.name)
	}
	if final.image != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final image = %s", final.image)
	}

	// The binary is static (no libc in distroless/static), reproducible, and built from cmd/bot.
	var buildLine string
	for _, r := range build.all("RUN") {
		if strings.Contains(r, "go build") {
			buildLine = r
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-o /aksbot", "./cmd/bot"} {
		if !strings.Contains(buildLine, want) {
			t.Errorf("build command %q lacks %s", buildLine, want)
		}
	}
	if _, err := os.Stat(filepath.Join("..", "cmd", "bot", "main.go")); err != nil {
		t.Errorf("the Dockerfile builds ./cmd/bot: %v", err)
	}

	// Everything the final stage copies comes from the builder.
	for _, c := range final.all("COPY") {
		if !strings.Contains(c, "--from="+build.name+" ") {
			t.Errorf("final stage copies %q not from the %s stage", c, build.name)
		}
	}

	users := final.all("USER")
	if len(users) == 0 || !strings.HasPrefix(users[len(users)-1], "65532") {
		t.Errorf("final USER = %v, want 65532 (distroless nonroot)", users)
	}
	if v := final.all("VOLUME"); len(v) != 1 || v[0] != "/data" {
		t.Errorf("VOLUME = %v, want /data", v)
	}
	if e := final.all("ENV"); !slices.Contains(e, "AKSBOT_DB=/data/aksbot.db") {
		t.Errorf("ENV = %v, want AKSBOT_DB=/data/aksbot.db", e)
	}
	if e := final.all("EXPOSE"); !slices.Contains(e, "8080") {
		t.Errorf("EXPOSE = %v, want 8080", e)
	}
	// The nonroot user must own /data, or an anonymous volume would not be writable.
	owned := false
	for _, c := range final.all("COPY") {
		f := strings.Fields(c)
		owned = owned || (slices.Contains(f, "--chown=65532:65532") && f[len(f)-1] == "/data")
	}
	if !owned {
		t.Error("no COPY --chown=65532:65532 ... /data: the volume would be root-owned")
	}

	ep := final.all("ENTRYPOINT")
	if len(ep) != 1 {
		t.Fatalf("want one ENTRYPOINT, got %v", ep)
	}
	var argv []string
	if err := json.Unmarshal([]byte(ep[0]), &argv); err != nil || len(argv) != 1 || argv[0] != "/aksbot" {
		t.Errorf("ENTRYPOINT %s, want the exec form [\"/aksbot\"] (a shell form needs a shell distroless lacks)", ep[0])
	}
}

func TestDockerignoreKeepsTheSources(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", ".dockerignore"))
	if err != nil {
		t.Fatalf("read .dockerignore: %v", err)
	}
	var patterns []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, strings.TrimPrefix(l, "/"))
		}
	}
	// Docker matches patterns against paths from the context root; "**/" matches any depth.
	ignored := func(p string) bool {
		for _, pat := range patterns {
			if rest, ok := strings.CutPrefix(pat, "**/"); ok {
				if m, _ := filepath.Match(rest, filepath.Base(p)); m {
					return true
				}
				continue
			}
			if m, _ := filepath.Match(pat, p); m {
				return true
			}
		}
		return false
	}
	for _, p := range []string{"go.mod", "go.sum", "cmd", "internal"} {
		if ignored(p) {
			t.Errorf(".dockerignore excludes %s, which the build needs", p)
		}
	}
	for _, p := range []string{".git", "aksbot.db", "internal/store/x.db"} {
		if !ignored(p) {
			t.Errorf(".dockerignore sends %s to the build context", p)
		}
	}
}
