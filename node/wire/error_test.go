package wire

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestErrorShape(t *testing.T) {
	base := errors.New("raft: not leader")
	e := Errorf(Unavailable, "unavailable", "shard europe: %w", base).Retry(3)
	if !errors.Is(e, base) || e.Message != "shard europe: raft: not leader" || KindOf(e) != Unavailable {
		t.Fatalf("%+v", e)
	}
	b, _ := json.Marshal(ErrorBody{Error: FieldError("serial", "serial: is required")})
	if string(b) != `{"error":{"code":"invalid_field","message":"serial: is required","field":"serial"}}` {
		t.Fatalf("body %s", b)
	}
	if KindOf(errors.New("x")) != Internal || Kind(200).String() != "kind(200)" {
		t.Fatal("unclassified")
	}
	for _, k := range Kinds() {
		if k.CallerFault() == (k == Internal || k == Unavailable || k == TooMany) {
			t.Errorf("%s: caller's fault %v", k, k.CallerFault())
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	var v struct {
		Serial string `json:"serial"`
		Limit  int    `json:"limit"`
	}
	for _, tc := range []struct{ body, code, field string }{
		{``, "invalid_json", ""},
		{`{"serial": "X"`, "invalid_json", ""},
		{`{"limit": "ten"}`, "invalid_field", "limit"},
		{`{"colour": 1}`, "invalid_field", "colour"},
		{`{} []`, "invalid_json", ""},
	} {
		err := DecodeStrict(strings.NewReader(tc.body), &v)
		if e := As(err); e.Kind != Invalid || e.Code != tc.code || e.Field != tc.field {
			t.Errorf("%q: %+v", tc.body, e)
		}
	}
	var mbe *http.MaxBytesError
	err := DecodeStrict(http.MaxBytesReader(nil, io.NopCloser(strings.NewReader(`{"serial": "XXXXXXXX"}`)), 4), &v)
	if !errors.As(err, &mbe) {
		t.Errorf("over the limit: %v, want the reader's error", err)
	}
}
