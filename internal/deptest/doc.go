// Package deptest holds the test that keeps fedarms' packages layered as their doc comments say:
// a table of what each package may import of fedarms (and what its tests may), checked against
// every file of the module, build tags or not, with go/parser. It also fails when a package has no
// doc comment, when a library's doc does not say what it may import, and when a package has no
// rule, so that a new package states its place in the layering in the same change that adds it.
//
// It imports no fedarms package: it reads the sources as text.
package deptest
