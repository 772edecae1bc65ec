package transport

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

func TestProtocolIDsAreUniqueAndVersioned(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Protocols {
		if seen[p] {
			t.Fatalf("duplicate protocol id %s", p)
		}
		seen[p] = true
		if !strings.HasPrefix(p, "/fedarms/") || !strings.Contains(p[len("/fedarms/"):], "/") {
			t.Fatalf("protocol id %s is not /fedarms/<use>/<version>", p)
		}
	}
}

// The package doc promises transport imports no other fedarms package; hold it to that.
func TestImportsNoFedarmsPackage(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if name == "protocols.go" && (f.Doc == nil || !strings.HasPrefix(f.Doc.Text(), "Package transport ")) {
			t.Fatal("protocols.go lost the package doc comment")
		}
		for _, imp := range f.Imports {
			if strings.HasPrefix(strings.Trim(imp.Path.Value, `"`), "github.com/fedarms/fedarms/") {
				t.Errorf("%s imports %s", name, imp.Path.Value)
			}
		}
	}
}
