package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReadEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    settings
		wantErr string
	}{
		{name: "defaults", want: settings{maxStaleness: 5 * time.Second, readyTimeout: 90 * time.Second, stopTimeout: 30 * time.Second, logLevel: "info", p2pHost: "127.0.0.1"}},
		{name: "overrides", env: map[string]string{"LOCALFED_MAX_STALENESS": "2s", "LOCALFED_READY_TIMEOUT": "3m", "LOCALFED_STOP_TIMEOUT": "5s", "LOCALFED_LOG_LEVEL": "debug"},
			want: settings{maxStaleness: 2 * time.Second, readyTimeout: 3 * time.Minute, stopTimeout: 5 * time.Second, logLevel: "debug", p2pHost: "127.0.0.1"}},
		{name: "namespace", env: map[string]string{"LOCALFED_P2P_HOST": "10.231.0.1", "LOCALFED_NETNS": "edge-cdg=thin@10.231.0.2"},
			want: settings{maxStaleness: 5 * time.Second, readyTimeout: 90 * time.Second, stopTimeout: 30 * time.Second, logLevel: "info",
				p2pHost: "10.231.0.1", netns: map[string]placement{"edge-cdg": {ns: "thin", addr: "10.231.0.2"}}}},
		{name: "bad namespace", env: map[string]string{"LOCALFED_NETNS": "edge-cdg=thin"}, wantErr: "LOCALFED_NETNS"},
		{name: "not a duration", env: map[string]string{"LOCALFED_MAX_STALENESS": "5"}, wantErr: "LOCALFED_MAX_STALENESS"},
		{name: "negative", env: map[string]string{"LOCALFED_READY_TIMEOUT": "-1s"}, wantErr: "LOCALFED_READY_TIMEOUT"},
		{name: "bad level", env: map[string]string{"LOCALFED_LOG_LEVEL": "loud"}, wantErr: "LOCALFED_LOG_LEVEL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestProcState(t *testing.T) {
	tests := []struct {
		stat string
		want byte
	}{
		{"123 (fedarms) S 1 123 123 0", 'S'},
		{"123 (a) b) Z 1 2", 'Z'},
		{"123 (x y) R 1", 'R'},
		{"garbage", 0},
		{"1 (x)", 0},
	}
	for _, tt := range tests {
		if got := procState(tt.stat); got != tt.want {
			t.Errorf("procState(%q) = %q, want %q", tt.stat, got, tt.want)
		}
	}
}

func TestArgsContain(t *testing.T) {
	cmdline := []byte("/d/bin/fedarms\x00agent\x00--config\x00/d/lyon-1/node.toml\x00")
	tests := []struct {
		want string
		ok   bool
	}{
		{"/d/lyon-1/node.toml", true},
		{"/d/lyon-2/node.toml", false},
		{"/d/lyon-1/node", false}, // a prefix is not the argument
		{"agent", true},
	}
	for _, tt := range tests {
		if got := argsContain(cmdline, tt.want); got != tt.ok {
			t.Errorf("argsContain(%q) = %v, want %v", tt.want, got, tt.ok)
		}
	}
}

func TestAssignAddrsGivesEachMemberTwoOwnPorts(t *testing.T) {
	specs := defaultMembers()
	ports, err := freePorts(2 * len(specs))
	if err != nil {
		t.Fatal(err)
	}
	if err := assignAddrs(specs, ports); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range specs {
		for _, a := range append([]string{s.HTTPAddr}, s.P2PAddrs...) {
			port := a[strings.LastIndexAny(a, ":/")+1:]
			if seen[port] {
				t.Fatalf("port %s given twice", port)
			}
			seen[port] = true
		}
	}
	if err := assignAddrs(specs, ports[:3]); err == nil {
		t.Fatal("too few ports accepted")
	}
}

func TestDefaultMembersMatchTheContract(t *testing.T) {
	roles := map[string]int{}
	countries := map[string]bool{}
	ncbNodes := map[string]int{}
	edgeShards := map[string]bool{}
	var frTwo bool
	for _, s := range defaultMembers() {
		roles[s.Role]++
		if s.Role == "ncb" {
			countries[s.Country] = true
			ncbNodes[s.Country]++
		}
		if s.Name == "ncb-fr-2" && s.Role == "ncb" && s.Country == "FR" && strings.Join(s.Shards, ",") == "europe" {
			frTwo = true
		}
		if s.Role == "edge" {
			edgeShards[strings.Join(s.Shards, ",")] = true
		}
	}
	if roles["central"] < 3 || roles["ncb"] < 2 || roles["edge"] < 2 {
		t.Fatalf("roles %v: want at least 3 central, 2 ncb, 2 edge", roles)
	}
	if len(countries) < 2 || len(edgeShards) < 2 {
		t.Fatalf("ncb countries %v and edge shard sets %v must differ", countries, edgeShards)
	}
	if ncbNodes["FR"] < 2 || !frTwo {
		t.Fatalf("ncb nodes per country %v: want FR served by two nodes, ncb-fr-2 holding europe", ncbNodes)
	}
}

func TestFederationJSONShape(t *testing.T) {
	dir := t.TempDir()
	ms := []member{{Name: "lyon-1", Role: "central", Shards: []string{"*"}, API: "http://127.0.0.1:1", DataDir: filepath.Join(dir, "lyon-1"), MaxStaleness: 5 * time.Second}}
	f := describe(ms, map[string]int{"lyon-1": 42})
	f.ReadySeconds = 1.5
	if err := writeFedFile(dir, f); err != nil {
		t.Fatal(err)
	}
	// A rewrite without a ready time (stop, start) keeps the last one.
	if err := writeFedFile(dir, describe(ms, nil)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "federation.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	node := got["nodes"].([]any)[0].(map[string]any)
	want := map[string]any{"name": "lyon-1", "role": "central", "country": "", "api": "http://127.0.0.1:1",
		"token_file": filepath.Join(dir, "lyon-1", "admin.token"), "log": filepath.Join(dir, "lyon-1", "node.log"), "shards": []any{"*"}}
	for k, v := range want {
		if !reflect.DeepEqual(node[k], v) {
			t.Errorf("%s = %#v, want %#v", k, node[k], v)
		}
	}
	if got["ready_seconds"] != 1.5 || got["max_staleness"] != "5s" {
		t.Errorf("ready_seconds %v, max_staleness %v", got["ready_seconds"], got["max_staleness"])
	}
}

func TestCheckEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := checkEmpty(filepath.Join(dir, "new")); err != nil {
		t.Fatalf("a new dir: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := checkEmpty(dir); err != nil {
		t.Fatalf("a dir with only bin/: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkEmpty(dir); err == nil {
		t.Fatal("a dir with other files accepted")
	}
}

func TestRunUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		code int
		say  string
	}{
		{nil, exitUsage, "a command and a federation DIR"},
		{[]string{"up"}, exitUsage, "a command and a federation DIR"},
		{[]string{"explode", dir}, exitUsage, `unknown command "explode"`},
		{[]string{"stop", dir}, exitUsage, "stop takes DIR NODE"},
		{[]string{"cut", dir, "a", "b", "c"}, exitUsage, "cut takes DIR NODE [PEER]"},
		{[]string{"status", dir}, exitFail, "no federation laid out here"},
		{[]string{"kill", dir, "lyon-1"}, exitFail, "no federation laid out here"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := run(tt.args, &out, &errb); code != tt.code || !strings.Contains(errb.String(), tt.say) {
			t.Errorf("run(%q) = %d, %q; want %d and %q", tt.args, code, errb.String(), tt.code, tt.say)
		}
	}
}

// TestIsAgentFollowsTheProcess checks liveness on a real process: alive while it runs with the
// expected argument, not alive for another argument, and not alive once killed, even while it is
// an unreaped zombie (an agent whose parent has not waited for it yet).
func TestIsAgentFollowsTheProcess(t *testing.T) {
	cmd := exec.Command("sleep", "37")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep binary:", err)
	}
	pid := cmd.Process.Pid
	if !isAgent(pid, "37") {
		t.Fatal("running process not seen")
	}
	if isAgent(pid, "38") {
		t.Fatal("a process with other arguments taken for the agent")
	}
	_ = cmd.Process.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for isAgent(pid, "37") {
		if time.Now().After(deadline) {
			t.Fatal("a killed, unreaped process still seen as running")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Wait()
	if isAgent(pid, "37") {
		t.Fatal("a dead process seen as running")
	}
}

func TestEdgeCDGTakesEuropeFromTheFrenchNCB(t *testing.T) {
	specs := defaultMembers()
	got := sourcesFor(specs, "edge-cdg")
	if strings.Join(got["europe"], ",") != "ncb-fr,ncb-fr-2" || strings.Join(got["africa"], ",") != "lyon-1,lyon-2,lyon-3" {
		t.Fatalf("edge-cdg sources %v: want europe from ncb-fr then ncb-fr-2, africa from the central nodes", got)
	}
	if got := sourcesFor(specs, "edge-nbo"); got != nil {
		t.Fatalf("edge-nbo sources %v: want none (a raft non-voter)", got)
	}
}
