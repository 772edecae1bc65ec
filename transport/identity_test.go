package transport

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateIdentityPersistsKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	again, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID {
		t.Fatalf("peer id changed across loads: %s then %s", first.ID, again.ID)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data dir holds %d files, want only the key (no temp files left)", len(entries))
	}
	other, err := LoadOrCreateIdentity(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if other.ID == first.ID {
		t.Fatal("two data dirs got the same identity")
	}
}

func TestLoadIdentityRefusesBadFiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte
		mode    os.FileMode
		want    error
	}{
		{"readable by others", nil, 0o644, ErrKeyPermissions},
		{"group readable", nil, 0o640, ErrKeyPermissions},
		{"garbage", []byte("not a key"), 0o600, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, IdentityFile)
			if tc.content == nil {
				if _, err := LoadOrCreateIdentity(dir); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreateIdentity(dir)
			if err == nil {
				t.Fatal("loaded a bad key file")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if raw, _ := os.ReadFile(path); tc.content != nil && string(raw) != string(tc.content) {
				t.Fatal("a bad key file was overwritten instead of reported")
			}
		})
	}
}
