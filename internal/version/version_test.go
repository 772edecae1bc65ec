package version

import "testing"

func TestReleaseSetAtBuildTimeWins(t *testing.T) {
	old := release
	t.Cleanup(func() { release = old })
	release = " 1.4.0-rc1\n"
	if got := Release(); got != "1.4.0-rc1" {
		t.Fatalf("Release() = %q, want the build-time string trimmed", got)
	}
}

func TestReleaseDerivedFromBaseAndRevision(t *testing.T) {
	for _, tc := range []struct {
		b    Build
		want string
	}{
		{Build{}, "0.1.0"},
		{Build{Revision: "4896248f0c1d2e3a4b5c"}, "0.1.0+4896248f0c1d"},
		{Build{Revision: "abc", Modified: true}, "0.1.0+abc.dirty"},
	} {
		if got := withRevision(Base, tc.b); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.b, got, tc.want)
		}
	}
}
