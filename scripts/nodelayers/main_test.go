package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadLayersAndReport(t *testing.T) {
	design := filepath.Join(t.TempDir(), "DESIGN.md")
	text := "# x\n\n## Other\n1. **not a layer**: `other.go`\n\n## Layers\nSome words about `words.go`.\n\n" +
		"1. **core**, the base: `a.go`\n   `b.go`\n2. **top**, the rest: `c.go` `gone.go`\n\n## After\n3. **after**: `d.go`\n"
	if err := os.WriteFile(design, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	layers, err := readLayers(design)
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 || layers[0].name != "core" || strings.Join(layers[0].files, " ") != "a.go b.go" ||
		layers[1].name != "top" || strings.Join(layers[1].files, " ") != "c.go gone.go" {
		t.Fatalf("layers %+v", layers)
	}
	refs := []ref{
		{from: "a.go", to: "c.go", name: "up"},     // against
		{from: "a.go", to: "c.go", name: "up2"},    // same pair, second use
		{from: "c.go", to: "a.go", name: "down"},   // fine
		{from: "a.go", to: "b.go", name: "beside"}, // same layer, fine
		{from: "new.go", to: "a.go", name: "x"},    // not placed
	}
	var out strings.Builder
	report(&out, layers, refs, []string{"a.go", "b.go", "c.go", "new.go"}, true)
	for _, want := range []string{
		"references between files (file pairs): 3, against the layering: 1",
		"uses across files: 4, against the layering: 2",
		"NOT PLACED (add them to the Layers section; their 1 file pairs are not counted): new.go",
		"NAMED BUT ABSENT (remove them from the Layers section): gone.go",
		"a.go (core) -> c.go (top): up up2",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
