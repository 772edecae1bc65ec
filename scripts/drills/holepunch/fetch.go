package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

// members prints one line per member for the script: name, namespace, config file, log file.
func members(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("members", flag.ContinueOnError)
	dir := fs.String("dir", "", "the drill's federation directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := readPlan(*dir)
	if err != nil {
		return err
	}
	for _, m := range p.Members {
		fmt.Fprintf(out, "%s %s %s %s\n", m.Name, m.NS, m.Config, m.Log)
	}
	return nil
}

// wait waits until one member's API answers, so the script can start the hub before the edges.
func wait(args []string) error {
	fs := flag.NewFlagSet("wait", flag.ContinueOnError)
	dir := fs.String("dir", "", "the drill's federation directory")
	name := fs.String("member", "hub", "the member to wait for")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := readPlan(*dir)
	if err != nil {
		return err
	}
	for _, m := range p.Members {
		if m.Name == *name {
			return poll(time.Now().Add(*timeout), func() (bool, string) {
				err := nsCall(m, "GET", "/v1/health", false, nil, nil)
				return err == nil, fmt.Sprintf("%s not answering after %v", m.Name, *timeout)
			})
		}
	}
	return fmt.Errorf("no member %q in %s", *name, *dir)
}

// fetch makes one HTTP call from the namespace it runs in and copies a 2xx body to out. The token
// file may be "-" (no token, for /v1/health) or not written yet, which is an error the caller
// retries.
func fetch(args []string, in io.Reader, out io.Writer) error {
	if len(args) != 3 {
		return usageError{"fetch takes METHOD URL TOKENFILE"}
	}
	method, url, tokenFile := args[0], args[1], args[2]
	var body io.Reader
	if method == http.MethodPost || method == http.MethodPut {
		body = in
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return err
	}
	if tokenFile != "-" {
		tok, err := os.ReadFile(tokenFile)
		if err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, strings.TrimSpace(string(b)))
	}
	_, err = out.Write(b)
	return err
}

// nsCall runs `fetch` inside the member's namespace and decodes the JSON answer into out (when
// not nil). The agents' APIs listen on their namespaces' loopbacks, which nothing else can reach.
func nsCall(m member, method, path string, withToken bool, body []byte, out any) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tok := "-"
	if withToken {
		tok = m.TokenFile
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", m.NS, self, "fetch", method, m.API+path, tok)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(body), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s on %s: %v: %s", method, path, m.Name, err, strings.TrimSpace(stderr.String()))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return fmt.Errorf("%s %s on %s: %w", method, path, m.Name, err)
	}
	return nil
}
