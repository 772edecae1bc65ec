package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/fedarms/fedarms/internal/version"
)

// manCmd writes a man page per command, generated from the command tree itself, so the pages the
// packages ship never disagree with --help.
func manCmd(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "man --dir DIR",
		Short:  "Write the man pages of every command (section 1) into DIR",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true // pages stay the same from one build to the next
			hdr := &doc.GenManHeader{Title: "FEDARMS", Section: "1", Source: "fedarms " + version.Release(), Manual: "fedarms manual"}
			if err := doc.GenManTree(root, hdr, dir); err != nil {
				return fmt.Errorf("man pages: %w", err)
			}
			fmt.Fprintf(e.stderr, "man pages written to %s\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "man", "directory for the pages")
	return cmd
}
