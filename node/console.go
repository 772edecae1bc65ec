package node

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed console
var consoleFiles embed.FS

// consoleHandler serves the embedded console assets under /console/.
func consoleHandler() http.Handler {
	sub, _ := fs.Sub(consoleFiles, "console")
	return http.StripPrefix("/console/", http.FileServerFS(sub))
}
