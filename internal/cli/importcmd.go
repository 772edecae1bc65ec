package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/internal/synth"
	"github.com/fedarms/fedarms/node/wire"
)

func importCmd(e *env) *cobra.Command {
	c := &client{}
	var format string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Bulk-load records from JSON lines or CSV ('-' for stdin)",
		Long: "import streams FILE to the node. JSON lines: one record object per line. CSV: a header row of\n" +
			"the record field names; other_serials separated by '|'. Prints accepted and rejected counts and\n" +
			"every rejected line with its reason; exits 0 only when nothing was rejected (3 otherwise).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := openInput(e, args[0], format, "importing")
			if err != nil {
				return err
			}
			defer in.close()
			ct, body := in.contentType, in.body
			var resp wire.ImportResponse
			if err := c.do("POST", "/v1/import", ct, body, &resp); err != nil {
				return err
			}
			return reportImport(e, c.asJSON, &resp)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "jsonl or csv (default: from the file name, else sniffed)")
	addClientFlags(cmd, c)
	return cmd
}

// input is a file (or stdin) a command streams to the node: its content type and its bytes,
// counted by a progress bar on a terminal.
type input struct {
	contentType string
	body        io.Reader
	close       func()
}

// openInput opens name ('-' for stdin), finds its format (format, else the name, else its first
// byte) and, when stderr is a terminal and the size is known, shows a progress bar labelled verb.
func openInput(e *env, name, format, verb string) (*input, error) {
	var in io.Reader = e.stdin
	size := int64(-1)
	closeFile := func() {}
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		closeFile = func() { f.Close() }
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		in = f
	}
	br := bufio.NewReaderSize(in, 1<<20)
	ct, err := sniffFormat(format, name, br)
	if err != nil {
		closeFile()
		return nil, err
	}
	it := &input{contentType: ct, body: br, close: closeFile}
	if isTerminal(e.stderr) && size > 0 {
		bar := progressbar.DefaultBytes(size, verb+" "+filepath.Base(name))
		it.body = io.TeeReader(br, bar)
		it.close = func() { bar.Finish(); closeFile() }
	}
	return it, nil
}

// sniffFormat picks the content type from the flag, the file name, or the first byte.
func sniffFormat(format, name string, br *bufio.Reader) (string, error) {
	switch {
	case format == "csv", format == "" && strings.HasSuffix(strings.ToLower(name), ".csv"):
		return "text/csv", nil
	case format == "jsonl", format == "json", format == "" && (strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".ndjson")):
		return "application/x-ndjson", nil
	case format != "":
		return "", &exitError{code: exitUsage, err: fmt.Errorf("--format must be jsonl or csv, not %q", format)}
	}
	head, _ := br.Peek(64)
	if len(bytes.TrimSpace(head)) > 0 && bytes.TrimSpace(head)[0] != '{' {
		return "text/csv", nil
	}
	return "application/x-ndjson", nil
}

func reportImport(e *env, asJSON bool, r *wire.ImportResponse) error {
	if asJSON {
		if err := printJSON(e.stdout, r); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "accepted: %d\nrejected: %d\n", r.Accepted, r.RejectedTotal())
		for _, rj := range r.Rejected {
			id := ""
			if rj.ID != "" {
				id = " (" + rj.ID + ")"
			}
			fmt.Fprintf(e.stdout, "  line %d%s: %s\n", rj.Line, id, rj.Error)
		}
		if more := r.RejectedTotal() - len(r.Rejected); more > 0 {
			fmt.Fprintf(e.stdout, "  ... and %d more rejected line(s) after line %d (the node lists the first %d)\n",
				more, r.Rejected[len(r.Rejected)-1].Line, len(r.Rejected))
		}
	}
	if n := r.RejectedTotal(); n > 0 {
		return &exitError{code: exitRejected, err: fmt.Errorf("%d line(s) rejected", n)}
	}
	return nil
}

// loadSample generates n synthetic records and imports them through the node's own API, so the
// sample takes exactly the path real imports take.
func loadSample(e *env, base, tokenFile string, n int) error {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		err := synth.WriteJSONLines(bw, n, 1)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	c := &client{addr: base, tokenFile: tokenFile}
	var resp wire.ImportResponse
	if err := c.do("POST", "/v1/import", "application/x-ndjson", pr, &resp); err != nil {
		return err
	}
	if len(resp.Rejected) > 0 {
		b, _ := json.Marshal(resp.Rejected[0])
		return fmt.Errorf("%d sample records rejected, first: %s", resp.RejectedTotal(), b)
	}
	fmt.Fprintf(e.stdout, "loaded %d sample records\n", resp.Accepted)
	return nil
}
