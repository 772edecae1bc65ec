// Command nodelayers measures how well the files of package node keep to their layering. It reads
// the layers, lowest first, from the "Layers" section of node/DESIGN.md (each numbered line names
// its layer in bold and its files in backquotes), type-checks node, and counts the references between its files: a file
// using a package-level func, type, var or const, or a method, declared in another file of node.
// A reference from a lower layer to a higher one runs against the layering.
//
//	go run ./scripts/nodelayers            # from the repository root
//	go run ./scripts/nodelayers -v         # also every reference against the layering
//
// It prints the number of file pairs (A uses something of B) and of uses, in all and against the
// layering, and names every file of node that the section does not place (and every file the
// section names that node does not have): a new file is reported, never guessed into a layer.
// It imports no fedarms package; the node is read as source.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "nodelayers:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("nodelayers", flag.ContinueOnError)
	pkgPath := fs.String("pkg", "./node", "package to measure")
	design := fs.String("design", "node/DESIGN.md", "file whose Layers section orders the package's files")
	verbose := fs.Bool("v", false, "list every reference against the layering")
	if err := fs.Parse(args); err != nil {
		return err
	}
	layers, err := readLayers(*design)
	if err != nil {
		return err
	}
	refs, files, err := references(*pkgPath)
	if err != nil {
		return err
	}
	report(out, layers, refs, files, *verbose)
	return nil
}

// layer is one numbered line of the Layers section.
type layer struct {
	name  string
	files []string
}

var (
	layerLine = regexp.MustCompile(`^\d+\.\s+\*\*([^*]+)\*\*`)
	fileName  = regexp.MustCompile("`([A-Za-z0-9_]+\\.go)`")
)

// readLayers returns the layers of the "## Layers" section, lowest first: lines "N. **name**, what
// it holds: `a.go` `b.go` ...", continued on the following lines until the next numbered line or
// heading.
func readLayers(path string) ([]layer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read layers: %w", err)
	}
	defer f.Close()
	var layers []layer
	in := false
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "## ") {
			in = strings.TrimSpace(strings.TrimPrefix(line, "## ")) == "Layers"
			continue
		}
		if !in {
			continue
		}
		if m := layerLine.FindStringSubmatch(line); m != nil {
			layers = append(layers, layer{name: strings.TrimSpace(m[1])})
		} else if len(layers) == 0 || strings.TrimSpace(line) == "" {
			continue
		}
		l := &layers[len(layers)-1]
		for _, m := range fileName.FindAllStringSubmatch(line, -1) {
			l.files = append(l.files, m[1])
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read layers: %w", err)
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("%s has no numbered lines under \"## Layers\"", path)
	}
	return layers, nil
}

// ref is one file using something declared in another file of the package.
type ref struct {
	from, to string
	name     string // what is used: Name, or Type.Method
}

// listed is what go list says of a package.
type listed struct {
	ImportPath string
	Dir        string
	Export     string
	GoFiles    []string
}

// references type-checks the package from source, its imports from the build's export data, and
// returns every use of a package-level object or method across two of its files, and its files.
func references(pattern string) ([]ref, []string, error) {
	cmd := exec.Command("go", "list", "-deps", "-export", "-json=ImportPath,Dir,Export,GoFiles", pattern)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("go list: %w: %s", err, stderr.String())
	}
	exports := map[string]string{}
	var target listed
	for dec := json.NewDecoder(bytes.NewReader(raw)); ; {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, nil, fmt.Errorf("go list output: %w", err)
		}
		exports[p.ImportPath] = p.Export
		target = p // -deps lists the named package last
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range target.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(target.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, f)
	}
	lookup := func(path string) (io.ReadCloser, error) {
		file := exports[path]
		if file == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", lookup)}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	pkg, err := conf.Check(target.ImportPath, fset, files, info)
	if err != nil {
		return nil, nil, fmt.Errorf("type-check %s: %w", target.ImportPath, err)
	}
	var refs []ref
	for id, obj := range info.Uses {
		if obj.Pkg() != pkg || !obj.Pos().IsValid() {
			continue
		}
		name, ok := declared(pkg, obj)
		if !ok {
			continue
		}
		from := filepath.Base(fset.Position(id.Pos()).Filename)
		to := filepath.Base(fset.Position(obj.Pos()).Filename)
		if from != to {
			refs = append(refs, ref{from: from, to: to, name: name})
		}
	}
	return refs, target.GoFiles, nil
}

// declared names obj if it is declared at the package level (a func, type, var or const) or is a
// method of a package-level type; fields, locals and parameters are not file-to-file references.
func declared(pkg *types.Package, obj types.Object) (string, bool) {
	if obj.Parent() == pkg.Scope() {
		return obj.Name(), true
	}
	fn, ok := obj.(*types.Func)
	if !ok {
		return "", false
	}
	recv := fn.Type().(*types.Signature).Recv()
	if recv == nil {
		return "", false
	}
	t := recv.Type()
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := t.(*types.Named); ok {
		return n.Obj().Name() + "." + fn.Name(), true
	}
	return fn.Name(), true // a method of an interface type
}

func report(out io.Writer, layers []layer, refs []ref, files []string, verbose bool) {
	rank := map[string]int{}
	for i, l := range layers {
		for _, f := range l.files {
			rank[f] = i
		}
	}
	have := map[string]bool{}
	var unplaced []string
	for _, f := range files {
		have[f] = true
		if _, ok := rank[f]; !ok {
			unplaced = append(unplaced, f)
		}
	}
	var missing []string
	for f := range rank {
		if !have[f] {
			missing = append(missing, f)
		}
	}
	sort.Strings(missing)

	type pair struct{ from, to string }
	uses := map[pair][]string{}
	for _, r := range refs {
		p := pair{r.from, r.to}
		uses[p] = append(uses[p], r.name)
	}
	var pairs, against, unknown []pair
	usesAll, usesAgainst := 0, 0
	for p, names := range uses {
		rf, okf := rank[p.from]
		rt, okt := rank[p.to]
		switch {
		case !okf || !okt:
			unknown = append(unknown, p)
			continue
		case rf < rt:
			against = append(against, p)
			usesAgainst += len(names)
		}
		pairs = append(pairs, p)
		usesAll += len(names)
	}
	sortPairs := func(ps []pair) {
		sort.Slice(ps, func(i, j int) bool {
			if ps[i].from != ps[j].from {
				return ps[i].from < ps[j].from
			}
			return ps[i].to < ps[j].to
		})
	}
	sortPairs(against)
	sortPairs(unknown)

	fmt.Fprintf(out, "layers (lowest first):\n")
	for i, l := range layers {
		fmt.Fprintf(out, "  %d %-22s %d files\n", i+1, l.name, len(l.files))
	}
	fmt.Fprintf(out, "files of node: %d, placed: %d\n", len(files), len(files)-len(unplaced))
	fmt.Fprintf(out, "references between files (file pairs): %d, against the layering: %d\n", len(pairs), len(against))
	fmt.Fprintf(out, "uses across files: %d, against the layering: %d\n", usesAll, usesAgainst)
	if len(unplaced) > 0 {
		fmt.Fprintf(out, "NOT PLACED (add them to the Layers section; their %d file pairs are not counted): %s\n", len(unknown), strings.Join(unplaced, " "))
	}
	if len(missing) > 0 {
		fmt.Fprintf(out, "NAMED BUT ABSENT (remove them from the Layers section): %s\n", strings.Join(missing, " "))
	}
	if verbose {
		fmt.Fprintln(out, "against the layering (lower file -> higher file: what it uses):")
		for _, p := range against {
			names := dedupe(uses[p])
			fmt.Fprintf(out, "  %s (%s) -> %s (%s): %s\n", p.from, layers[rank[p.from]].name, p.to, layers[rank[p.to]].name, strings.Join(names, " "))
		}
	}
}

func dedupe(names []string) []string {
	sort.Strings(names)
	out := names[:0]
	for i, n := range names {
		if i == 0 || n != names[i-1] {
			out = append(out, n)
		}
	}
	return out
}
