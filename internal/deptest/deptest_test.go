package deptest

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// rule says what one package may import of fedarms: paths inside the module separated by spaces,
// "internal/..." standing for every package under internal/. tests lists what its _test.go files
// may import besides. planned marks the rule of a package that is being added and may not exist
// yet. Whatever the table says, the layering rules in check hold too (who may import node, that
// only tests import internal/testutil, that cmd/ holds commands only).
type rule struct {
	imports string
	tests   string
	planned bool
}

// rules is the layering, one line a package. Keep each package's doc comment saying the same.
var rules = map[string]rule{
	// The commands.
	"cmd/fedarms": {imports: "internal/cli"},

	// The parts of the card. matcher and transport are leaves; replication knows records only;
	// config reads the reference tables; node wires everything and nothing below imports it.
	"config":      {imports: "internal/reference"},
	"matcher":     {},
	"replication": {imports: "internal/durable internal/record internal/seal", tests: "internal/synth internal/testutil"},
	"transport":   {tests: "internal/testutil"},
	"node": {imports: "config internal/audit internal/auth internal/clock internal/durable internal/hugepage internal/record internal/reference internal/seal internal/version matcher replication transport node/notify node/wire node/httpapi node/fedplan",
		tests: "internal/synth internal/testutil internal/tlsca"},
	"node/notify": {imports: "internal/seal"},
	// The API's shapes carry the types they show (a record, a hit, a roster entry, a token).
	"node/wire":    {imports: "internal/auth internal/record matcher node/notify transport"},
	"node/httpapi": {imports: "internal/... node/wire node/notify transport"},
	"node/fedplan": {imports: "config transport internal/..."},

	// The matcher's evaluation suite and its command; no production package imports them.
	"matcher/eval":                  {imports: "matcher internal/record internal/reference internal/synth"},
	"matcher/eval/cmd/matcher-eval": {imports: "matcher/eval internal/hugepage"},

	// Leaves under internal/: none of them imports another fedarms package but synth, which
	// generates records, cli, which runs a node and speaks to one over HTTP, and audit and seal,
	// which write through durable (audit also encodes its canonical entry with record's JSON
	// appenders, which record, a leaf, shares with every encoder of the project).
	"internal/audit":     {imports: "internal/durable internal/record internal/seal", tests: "internal/testutil"},
	"internal/auth":      {},
	"internal/seal":      {imports: "internal/durable"},
	"internal/durable":   {},
	"internal/hugepage":  {},
	"internal/record":    {},
	"internal/reference": {tests: "internal/record"},
	"internal/synth":     {imports: "internal/record internal/reference"},
	"internal/testutil":  {},
	"internal/clock":     {},
	"internal/tlsca":     {},
	"internal/deptest":   {},
	"internal/version":   {},
	"internal/sdnotify":  {},
	"internal/cli": {imports: "config internal/audit internal/auth internal/record internal/sdnotify internal/seal internal/synth internal/tlsca internal/version node node/notify node/wire node/httpapi node/fedplan transport",
		tests: "internal/testutil"},

	// Tools and drills. They drive nodes from outside; the drills never import node, so nothing
	// is tested that a client could not see.
	"scripts/benchtool":        {imports: "config internal/auth internal/record internal/reference internal/synth node node/wire replication transport"},
	"scripts/drills":           {tests: "internal/record internal/testutil node/wire"},
	"scripts/drills/holepunch": {imports: "config internal/synth node/fedplan node/wire"},
	"scripts/localfedtool":     {imports: "config internal/tlsca node/fedplan node/wire"},
	"scripts/nodelayers":       {},
	"scripts/packagetool":      {tests: "config"},
}

// mayImportNode says who may import node itself: the commands, the CLI that runs a node, and the
// tools under scripts/. Everything else sits below node or beside it (node/httpapi included).
func mayImportNode(pkg string) bool {
	return pkg == "node" || pkg == "internal/cli" || strings.HasPrefix(pkg, "cmd/") || strings.HasPrefix(pkg, "scripts/")
}

// pkg is one directory of the module as its files declare it.
type pkg struct {
	name    string              // package name of its non-test files ("" if it has only tests)
	doc     string              // its package doc comment
	imports map[string][]string // fedarms package (inside the module) -> non-test files importing it
	tests   map[string][]string // the same for _test.go files
}

func TestImportRules(t *testing.T) {
	root := filepath.Join("..", "..")
	pkgs, err := load(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("found %d packages under %s: not the module's root?", len(pkgs), root)
	}
	for _, problem := range check(pkgs, rules) {
		t.Error(problem)
	}
}

// check returns every way pkgs break the rules, in a stable order.
func check(pkgs map[string]*pkg, rules map[string]rule) []string {
	var out []string
	for _, dir := range sortedKeys(pkgs) {
		p := pkgs[dir]
		r, ok := rules[dir]
		if !ok {
			out = append(out, fmt.Sprintf("%s has no import rule: add one line for it to rules in internal/deptest/deptest_test.go, "+
				"saying what it may import of fedarms (and its tests), and say the same in its package doc", dir))
		}
		if p.name != "" {
			switch {
			case strings.TrimSpace(p.doc) == "":
				out = append(out, fmt.Sprintf("%s has no package doc comment: say what it owns and what it must not import", dir))
			case p.name != "main" && !strings.Contains(p.doc, "import"):
				out = append(out, fmt.Sprintf("%s's package doc does not say what it may import", dir))
			}
		}
		if strings.HasPrefix(dir, "cmd/") && p.name != "main" {
			out = append(out, fmt.Sprintf("%s is package %s: cmd/ holds commands (package main) only", dir, p.name))
		}
		for _, imp := range sortedKeys(p.imports) {
			files := strings.Join(p.imports[imp], ", ")
			switch {
			case imp == "internal/testutil":
				out = append(out, fmt.Sprintf("%s imports internal/testutil outside tests (%s): only tests may", dir, files))
			case imp == "node" && !mayImportNode(dir):
				out = append(out, fmt.Sprintf("%s imports node (%s): only cmd/, internal/cli and scripts/ may; use node/wire or a smaller package", dir, files))
			case ok && !allowed(r.imports, imp):
				out = append(out, fmt.Sprintf("%s imports %s (%s), which its rule does not allow (it may import: %s)", dir, imp, files, orNothing(r.imports)))
			}
		}
		for _, imp := range sortedKeys(p.tests) {
			files := strings.Join(p.tests[imp], ", ")
			switch {
			case imp == dir: // an external test package importing the package it tests
			case imp == "node" && !mayImportNode(dir):
				out = append(out, fmt.Sprintf("tests of %s import node (%s): only cmd/, internal/cli and scripts/ may", dir, files))
			case ok && !allowed(r.imports, imp) && !allowed(r.tests, imp):
				out = append(out, fmt.Sprintf("tests of %s import %s (%s), which its rule does not allow (tests may import: %s)", dir, imp, files, orNothing(strings.TrimSpace(r.imports+" "+r.tests))))
			}
		}
	}
	for _, dir := range sortedKeys(rules) {
		if _, ok := pkgs[dir]; !ok && !rules[dir].planned {
			out = append(out, fmt.Sprintf("the rule for %s names no package: remove it, or mark it planned while the package is being added", dir))
		}
	}
	return out
}

// allowed reports whether list (space separated, "dir/..." for a subtree) admits imp.
func allowed(list, imp string) bool {
	for _, a := range strings.Fields(list) {
		if a == imp || strings.HasSuffix(a, "/...") && strings.HasPrefix(imp, strings.TrimSuffix(a, "...")) {
			return true
		}
	}
	return false
}

func orNothing(list string) string {
	if list == "" {
		return "nothing of fedarms"
	}
	return list
}

// load parses every Go file under root (build tags ignored: a drill behind a tag obeys the same
// rules) and returns its packages by directory relative to root, with their fedarms imports.
func load(root string) (map[string]*pkg, error) {
	module, err := modulePath(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	pkgs := map[string]*pkg{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); file != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(file, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(file))
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, file, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		p := pkgs[dir]
		if p == nil {
			p = &pkg{imports: map[string][]string{}, tests: map[string][]string{}}
			pkgs[dir] = p
		}
		isTest := strings.HasSuffix(file, "_test.go")
		if !isTest {
			p.name = f.Name.Name
			if f.Doc != nil {
				p.doc += f.Doc.Text()
			}
		}
		for _, spec := range f.Imports {
			imp := strings.Trim(spec.Path.Value, `"`)
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			imp = strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			into := p.imports
			if isTest {
				into = p.tests
			}
			into[imp] = append(into[imp], path.Base(filepath.ToSlash(file)))
		}
		return nil
	})
	return pkgs, err
}

// modulePath reads the module line of go.mod.
func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("%s: no module line", gomod)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestCheckCatches feeds check a made-up module with one mistake of each kind, so that a check
// that lets everything through fails here.
func TestCheckCatches(t *testing.T) {
	doc := "Package x owns x. It imports nothing of fedarms."
	mk := func(name, doc string, imports, tests map[string][]string) *pkg {
		if imports == nil {
			imports = map[string][]string{}
		}
		if tests == nil {
			tests = map[string][]string{}
		}
		return &pkg{name: name, doc: doc, imports: imports, tests: tests}
	}
	rules := map[string]rule{
		"matcher":      {},
		"transport":    {tests: "internal/testutil"},
		"config":       {imports: "internal/reference"},
		"node/httpapi": {imports: "internal/... node/wire"},
		"cmd/fedarms":  {imports: "internal/cli"},
		"cmd/lib":      {},
		"gone":         {},
		"coming":       {planned: true},
	}
	pkgs := map[string]*pkg{
		"matcher":      mk("matcher", doc, map[string][]string{"internal/record": {"a.go"}}, nil),
		"transport":    mk("transport", doc, nil, map[string][]string{"internal/testutil": {"a_test.go"}, "config": {"b_test.go"}}),
		"config":       mk("config", "", map[string][]string{"internal/testutil": {"c.go"}}, nil),
		"node/httpapi": mk("httpapi", "Package httpapi serves.", map[string][]string{"internal/auth": {"h.go"}, "node": {"h.go"}}, nil),
		"cmd/fedarms":  mk("main", "Command fedarms runs.", map[string][]string{"internal/cli": {"main.go"}}, nil),
		"cmd/lib":      mk("lib", doc, nil, nil),
		"newpkg":       mk("newpkg", doc, nil, nil),
	}
	got := check(pkgs, rules)
	want := []string{
		"cmd/lib is package lib: cmd/ holds commands",
		"config has no package doc comment",
		"config imports internal/testutil outside tests (c.go)",
		"matcher imports internal/record (a.go), which its rule does not allow (it may import: nothing of fedarms)",
		"newpkg has no import rule: add one line",
		"node/httpapi's package doc does not say what it may import",
		"node/httpapi imports node (h.go)",
		"tests of transport import config (b_test.go)",
		"the rule for gone names no package",
	}
	if len(got) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
			t.Errorf("no problem starting %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
}
