package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedarms/fedarms/internal/tlsca"
)

// client calls a node's HTTP API with a bearer token.
type client struct {
	addr      string
	tokenFile string
	caFile    string
	asJSON    bool
	http      *http.Client
}

// caEnv names the CA file clients trust when --ca is not given.
const caEnv = "FEDARMS_CA"

// addClientFlags adds --addr, --token-file, --ca and --json to a client command.
func addClientFlags(cmd *cobra.Command, c *client) {
	cmd.Flags().StringVar(&c.addr, "addr", "http://127.0.0.1:8080", "node API address (https://HOST:PORT for a node serving TLS)")
	cmd.Flags().StringVar(&c.tokenFile, "token-file", "", "file holding the bearer token (default: $FEDARMS_TOKEN, else ./fedarms-data/admin.token)")
	cmd.Flags().StringVar(&c.caFile, "ca", "", "PEM file of the federation's CA certificate, to trust an https:// node (default: $"+caEnv+", else the system's roots)")
	cmd.Flags().BoolVar(&c.asJSON, "json", false, "print machine-readable JSON")
}

// httpClient is the client's HTTP client: it trusts the federation's CA (--ca or $FEDARMS_CA) when
// one is given, and speaks HTTP/2 to a node serving TLS.
func (c *client) httpClient() (*http.Client, error) {
	if c.http != nil {
		return c.http, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	ca := c.caFile
	if ca == "" {
		ca = strings.TrimSpace(os.Getenv(caEnv))
	}
	if ca != "" {
		pool, err := tlsca.Pool(ca)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		tr.ForceAttemptHTTP2 = true
	}
	c.http = &http.Client{Transport: tr}
	return c.http, nil
}

func (c *client) token() (string, error) {
	if c.tokenFile == "" {
		if t := strings.TrimSpace(os.Getenv("FEDARMS_TOKEN")); t != "" {
			return t, nil
		}
		c.tokenFile = "./fedarms-data/admin.token"
	}
	b, err := os.ReadFile(c.tokenFile)
	if err != nil {
		return "", fmt.Errorf("no token: %w (pass --token-file or set FEDARMS_TOKEN)", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// apiError is the API's error shape as the client reads it.
type apiError struct {
	Status int
	Error  struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// open sends a request and returns the answer of a 2xx status for the caller to read and close;
// any other status becomes an error carrying the API's message.
func (c *client) open(method, path, contentType string, body io.Reader) (*http.Response, error) {
	tok, err := c.token()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(method, strings.TrimRight(c.addr, "/")+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	hc, err := c.httpClient()
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, reachError(c.addr, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusBadRequest && bytes.Contains(raw, []byte("HTTP request to an HTTPS server")) {
		return nil, fmt.Errorf("the node at %s serves HTTPS: use https:// in --addr", c.addr)
	}
	var ae apiError
	if json.Unmarshal(raw, &ae) == nil && ae.Error.Message != "" {
		return nil, fmt.Errorf("%s (%d %s)", ae.Error.Message, resp.StatusCode, ae.Error.Code)
	}
	return nil, fmt.Errorf("%s %s: %s", method, path, resp.Status)
}

// reachError explains a failed call: a node whose certificate the client does not trust needs
// --ca; an http:// address given to a node serving TLS gets a plain answer back.
func reachError(addr string, err error) error {
	var uae x509.UnknownAuthorityError
	var cie x509.CertificateInvalidError
	var hne x509.HostnameError
	switch {
	case errors.As(err, &uae), errors.As(err, &cie):
		return fmt.Errorf("the node at %s: %w (give the federation's CA with --ca FILE or $%s)", addr, err, caEnv)
	case errors.As(err, &hne):
		return fmt.Errorf("the node at %s: %w (its certificate does not name this address; see fedarms federation cert --host)", addr, err)
	}
	return fmt.Errorf("cannot reach the node at %s: %w (is it running? see --addr)", addr, err)
}

// do sends a request and decodes a 2xx JSON answer into out (when non-nil).
func (c *client) do(method, path, contentType string, body io.Reader, out any) error {
	resp, err := c.open(method, path, contentType, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if out != nil && len(raw) > 0 {
		if raw2, ok := out.(*json.RawMessage); ok {
			*raw2 = raw
			return nil
		}
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (c *client) postJSON(path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.do("POST", path, "application/json", bytes.NewReader(b), out)
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}
