package cli

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"
)

func screenCmd(e *env) *cobra.Command {
	c := &client{}
	var format, outPath, outFormat string
	cmd := &cobra.Command{
		Use:   "screen FILE",
		Short: "Screen many firearms at once: a manifest, an inventory or a catalogue ('-' for stdin)",
		Long: "screen sends every line of FILE to POST /v1/search/batch and writes one answer per line, in\n" +
			"order. FILE is JSON lines of search requests (the fields of `fedarms search`: serial, make,\n" +
			"model, calibre, type, on_behalf_of, reference) or CSV with a header row of those names.\n" +
			"Answers are JSON lines as the node sends them, or CSV (--out-format csv): line, verdict (HIT,\n" +
			"REVIEW, none or error), the best record and its score. Every line is audited and every HIT\n" +
			"notified like a single search. A summary of the hits follows on stderr; exits 3 when some\n" +
			"lines could not be searched.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out io.Writer = e.stdout
			if outPath != "" && outPath != "-" {
				f, err := os.Create(outPath)
				if err != nil {
					return err
				}
				defer f.Close()
				out = f
			}
			if outFormat == "" {
				outFormat = "jsonl"
				if strings.HasSuffix(strings.ToLower(outPath), ".csv") {
					outFormat = "csv"
				}
			}
			if outFormat != "jsonl" && outFormat != "csv" {
				return &exitError{code: exitUsage, err: fmt.Errorf("--out-format must be jsonl or csv, not %q", outFormat)}
			}
			in, err := openInput(e, args[0], format, "screening")
			if err != nil {
				return err
			}
			defer in.close()
			ct, src := in.contentType, in.body
			s := &screening{}
			body := src
			if ct == "text/csv" {
				body = s.csvToJSONLines(src)
			}
			bw := bufio.NewWriterSize(out, 1<<16)
			sum, err := s.run(c, body, bw, outFormat)
			if ferr := bw.Flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return err
			}
			s.report(e.stderr, sum)
			if sum.Errors > 0 {
				return &exitError{code: exitRejected, err: fmt.Errorf("%d line(s) could not be searched", sum.Errors)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "input: jsonl or csv (default: from the file name, else sniffed)")
	cmd.Flags().StringVarP(&outPath, "out", "o", "", "write the answers to this file (default stdout)")
	cmd.Flags().StringVar(&outFormat, "out-format", "", "jsonl or csv (default: csv for an --out ending in .csv, else jsonl)")
	addClientFlags(cmd, c)
	return cmd
}

// screening is one run of `fedarms screen`.
type screening struct {
	mu      sync.Mutex // guards csvLine, written by the CSV converter while answers are read
	csvLine []int      // the CSV file line of each request line, for CSV input
	hits    []string   // a summary line per HIT
}

// screenAnswer is any line of the node's answer.
type screenAnswer struct {
	Line     int    `json:"line"`
	SearchID string `json:"search_id"`
	Results  []struct {
		ID             string  `json:"id"`
		Score          float64 `json:"score"`
		Hit            bool    `json:"hit"`
		Review         bool    `json:"review"`
		NotificationID string  `json:"notification_id"`
		Record         struct {
			Serial           string `json:"serial"`
			Make             string `json:"make"`
			Model            string `json:"model"`
			RecordingCountry string `json:"recording_country"`
			Status           string `json:"status"`
		} `json:"record"`
	} `json:"results"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Done   bool `json:"done"`
	Count  int  `json:"count"`
	Hits   int  `json:"hits"`
	Errors int  `json:"errors"`
}

var screenCSVHeader = []string{"line", "verdict", "id", "score", "serial", "make", "model", "recording_country", "status", "notification_id", "search_id", "error"}

// run streams body to the node and writes each answer line to out as it arrives.
func (s *screening) run(c *client, body io.Reader, out io.Writer, outFormat string) (screenAnswer, error) {
	resp, err := c.open("POST", "/v1/search/batch", "application/x-ndjson", body)
	if err != nil {
		return screenAnswer{}, err
	}
	defer resp.Body.Close()
	var cw *csv.Writer
	if outFormat == "csv" {
		cw = csv.NewWriter(out)
		defer cw.Flush()
		if err := cw.Write(screenCSVHeader); err != nil {
			return screenAnswer{}, err
		}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 64<<20)
	for sc.Scan() {
		var a screenAnswer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return a, fmt.Errorf("unreadable answer line %q: %w", sc.Text(), err)
		}
		if a.Done {
			return a, nil
		}
		if a.Line == 0 && a.Error != nil {
			return a, fmt.Errorf("the node stopped the screening: %s (%s)", a.Error.Message, a.Error.Code)
		}
		line := s.sourceLine(a.Line)
		if cw != nil {
			if err := cw.Write(s.csvRow(line, a)); err != nil {
				return a, err
			}
		} else {
			raw := sc.Bytes()
			if line != a.Line { // CSV input: name the CSV file's line
				a2 := map[string]any{}
				_ = json.Unmarshal(raw, &a2)
				a2["line"] = line
				raw, _ = json.Marshal(a2)
			}
			if _, err := out.Write(append(raw, '\n')); err != nil {
				return a, err
			}
		}
		if len(a.Results) > 0 && a.Results[0].Hit {
			r := a.Results[0]
			s.hits = append(s.hits, fmt.Sprintf("line %d: HIT %s (%s %s %s, %s, %s) notification %s", line, r.ID,
				r.Record.Serial, r.Record.Make, r.Record.Model, r.Record.RecordingCountry, r.Record.Status, r.NotificationID))
		}
	}
	if err := sc.Err(); err != nil {
		return screenAnswer{}, fmt.Errorf("reading the answer: %w", err)
	}
	return screenAnswer{}, errors.New("the answer ended without its done line: the screening did not finish (see the node's log)")
}

func (s *screening) csvRow(line int, a screenAnswer) []string {
	row := make([]string, len(screenCSVHeader))
	row[0], row[10] = strconv.Itoa(line), a.SearchID
	switch {
	case a.Error != nil:
		row[1], row[11] = "error", a.Error.Code+": "+a.Error.Message
	case len(a.Results) == 0:
		row[1] = "none"
	default:
		r := a.Results[0]
		row[1] = "none"
		if r.Hit {
			row[1] = "HIT"
		} else if r.Review {
			row[1] = "REVIEW"
		}
		row[2], row[3] = r.ID, strconv.FormatFloat(r.Score, 'f', 3, 64)
		row[4], row[5], row[6], row[7], row[8], row[9] = r.Record.Serial, r.Record.Make, r.Record.Model,
			r.Record.RecordingCountry, r.Record.Status, r.NotificationID
	}
	return row
}

func (s *screening) report(w io.Writer, sum screenAnswer) {
	fmt.Fprintf(w, "screened %d lines: %d with a HIT, %d not searched\n", sum.Count, sum.Hits, sum.Errors)
	for _, h := range s.hits {
		fmt.Fprintln(w, "  "+h)
	}
}

// sourceLine maps a request line to the input's line: itself for JSON lines, the CSV file's line
// for CSV input.
func (s *screening) sourceLine(line int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.csvLine == nil || line < 1 || line > len(s.csvLine) {
		return line
	}
	return s.csvLine[line-1]
}

// screenColumns are the CSV columns a screening reads: the search request's fields.
var screenColumns = map[string]bool{"serial": true, "make": true, "model": true, "calibre": true,
	"type": true, "on_behalf_of": true, "reference": true}

// csvToJSONLines turns CSV rows into search request lines as they are read. A bad header or row
// ends the stream with an error the client reports.
func (s *screening) csvToJSONLines(src io.Reader) io.Reader {
	s.csvLine = []int{}
	pr, pw := io.Pipe()
	go func() {
		cr := csv.NewReader(src)
		cr.FieldsPerRecord = -1
		header, err := cr.Read()
		if err != nil {
			pw.CloseWithError(fmt.Errorf("CSV header row: %w", err))
			return
		}
		for i, h := range header {
			header[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
			if !screenColumns[header[i]] {
				pw.CloseWithError(fmt.Errorf("unknown CSV column %q (use serial, make, model, calibre, type, on_behalf_of, reference)", header[i]))
				return
			}
		}
		bw := bufio.NewWriterSize(pw, 1<<16)
		for {
			row, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				pw.CloseWithError(fmt.Errorf("CSV: %w", err))
				return
			}
			req := make(map[string]string, len(row))
			for i, v := range row {
				if i < len(header) && strings.TrimSpace(v) != "" {
					req[header[i]] = strings.TrimSpace(v)
				}
			}
			b, _ := json.Marshal(req)
			line, _ := cr.FieldPos(0)
			s.mu.Lock()
			s.csvLine = append(s.csvLine, line)
			s.mu.Unlock()
			bw.Write(append(b, '\n'))
		}
		pw.CloseWithError(bw.Flush())
	}()
	return pr
}
