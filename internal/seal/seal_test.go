package seal

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func testKey(t *testing.T) *Key {
	t.Helper()
	k, err := NewKey(Generate())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestValueOpensOnlyUnderItsKey(t *testing.T) {
	k := testKey(t)
	plain := []byte("serial FRC-123456 make Glock")
	ad := AD([]byte("records"), []byte("R1"))
	a, b := k.Seal(nil, ad, plain), k.Seal(nil, ad, plain)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one value are equal: the nonce is not fresh")
	}
	if bytes.Contains(a, []byte("FRC-123456")) {
		t.Fatal("sealed value holds the plain text")
	}
	got, err := k.Open(nil, ad, a)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := k.Open(nil, AD([]byte("records"), []byte("R2")), a); !errors.Is(err, ErrOpen) {
		t.Fatalf("value moved to another key opened: %v", err)
	}
	if _, err := testKey(t).Open(nil, ad, a); !errors.Is(err, ErrOpen) {
		t.Fatalf("another data key opened the value: %v", err)
	}
	a[len(a)-1] ^= 1
	if _, err := k.Open(nil, ad, a); !errors.Is(err, ErrOpen) {
		t.Fatalf("damaged value opened: %v", err)
	}
	var plainDir *Key
	if v := plainDir.Seal(nil, ad, plain); !bytes.Equal(v, plain) {
		t.Fatal("a nil key changed the value")
	}
}

func TestStreamRoundTripsAndDetectsCuts(t *testing.T) {
	k := testKey(t)
	ad := []byte("snapshot")
	for _, size := range []int{0, 1, ChunkSize - 1, ChunkSize, 3*ChunkSize + 17} {
		plain := bytes.Repeat([]byte("FRC-123456,"), size/11+1)[:size]
		var sealed bytes.Buffer
		w := k.NewWriter(&sealed, ad)
		if _, err := w.Write(plain); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if size > 20 && bytes.Contains(sealed.Bytes(), []byte("FRC-123456")) {
			t.Fatal("sealed stream holds the plain text")
		}
		got, err := io.ReadAll(k.NewReader(bytes.NewReader(sealed.Bytes()), ad))
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: read %d bytes, %v", size, len(got), err)
		}
		if size > ChunkSize {
			// Cut at the first chunk boundary: what is left is a valid middle chunk, never a last.
			cut := len(streamMagic) + 4 + ChunkSize + Overhead
			if _, err := io.ReadAll(k.NewReader(bytes.NewReader(sealed.Bytes()[:cut]), ad)); !errors.Is(err, ErrTruncated) {
				t.Fatalf("size %d: a stream cut at a chunk boundary read without error: %v", size, err)
			}
		}
		if _, err := io.ReadAll(k.NewReader(bytes.NewReader(sealed.Bytes()), []byte("other"))); err == nil {
			t.Fatalf("size %d: stream opened under another name", size)
		}
	}
}

func TestKeyFileSealedByPassphrase(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secret, err := ReadSecret(pass, "")
	if err != nil {
		t.Fatal(err)
	}
	k, info, err := CreateKey(dir, secret)
	if err != nil || info.Sealing != SealedPassphrase {
		t.Fatalf("create: %v %+v", err, info)
	}
	sealed := k.Seal(nil, nil, []byte("x"))
	before, _ := os.ReadFile(filepath.Join(dir, KeyFileName))

	if _, _, err := LoadKey(dir, nil); err == nil {
		t.Fatal("a sealed key file opened without its passphrase")
	}
	if err := os.WriteFile(pass, []byte("wrong horse"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong, _ := ReadSecret(pass, "")
	if _, _, err := LoadKey(dir, wrong); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, KeyFileName)); !bytes.Equal(before, after) {
		t.Fatal("a wrong passphrase changed the key file")
	}
	k2, _, err := LoadKey(dir, secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k2.Open(nil, nil, sealed); err != nil {
		t.Fatalf("reloaded key does not open: %v", err)
	}
	if err := DestroyKey(dir); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadKey(dir, secret); !errors.Is(err, ErrNoKey) {
		t.Fatalf("after destroy: %v", err)
	}
}

func TestUnsealedKeyFileIsSealedOncePassphraseIsSet(t *testing.T) {
	dir := t.TempDir()
	if _, info, err := CreateKey(dir, nil); err != nil || info.Sealing != SealedNone {
		t.Fatalf("%v %+v", err, info)
	}
	secret := &Secret{Kind: SealedPassphrase, Source: "test", value: []byte("pw")}
	if _, info, err := LoadKey(dir, secret); err != nil || info.Sealing != SealedPassphrase {
		t.Fatalf("%v %+v", err, info)
	}
	if _, _, err := LoadKey(dir, nil); err == nil {
		t.Fatal("key file still opens without the passphrase")
	}
}
