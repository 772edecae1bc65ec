package config

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzParse reads arbitrary bytes as a node's config file. Nothing panics, every problem is a
// *Problems, and a config that parses, written out again, parses to the same config.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`version = 1
name = "edge-cdg"
role = "edge"
country = "FR"
data_dir = "/var/lib/fedarms"
http_addr = "0.0.0.0:8080"
shards = ["europe", "africa"]
max_staleness = "2h"
[raft]
apply_batch = 500
`))
	f.Add([]byte("version = 1\nname = \"lyon-1\"\nrole = \"central\"\n[federation]\nlisten = [\"/ip4/0.0.0.0/tcp/4001\"]\n"))
	f.Add([]byte("version = \nname="))
	f.Add([]byte("max_staleness = \"9223372036854775807ns\"\n[limits]\nmax_body_bytes = -1\n"))
	f.Add([]byte("a = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"))
	f.Add([]byte("[[raft]]\n[raft.x.y]\nz = 1979-05-27T07:32:00Z\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(bytes.NewReader(b))
		if err != nil {
			if _, ok := err.(*Problems); !ok {
				t.Fatalf("error %T %v is not a *Problems", err, err)
			}
			return
		}
		var out bytes.Buffer
		if err := toml.NewEncoder(&out).Encode(c); err != nil {
			t.Fatalf("a parsed config does not encode: %v", err)
		}
		back, err := Parse(&out)
		if err != nil {
			t.Fatalf("a parsed config, written as\n%s\ndoes not parse: %v", out.Bytes(), err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("%+v comes back as %+v", c, back)
		}
	})
}
