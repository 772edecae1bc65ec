package matcher

import "strings"

// fakeRef is a small reference table for tests: a few makes with aliases, calibre classes with one
// close pair, and type words.
type fakeRef struct{}

var (
	fakeMakes = map[string]string{
		"SMITHWESSON": "smith-wesson", "SW": "smith-wesson", "SMITHANDWESSON": "smith-wesson",
		"GLOCK": "glock", "GLOCKGESMBH": "glock",
		"HK": "heckler-koch", "HECKLERKOCH": "heckler-koch", "HECKLERUNDKOCH": "heckler-koch",
		"KALASHNIKOV": "kalashnikov", "IZHMASH": "kalashnikov",
		"BERETTA": "beretta", "COLT": "colt",
	}
	fakeCalibres = map[string]string{
		"9MM": "9x19", "9X19": "9x19", "9MMLUGER": "9x19", "9MMPARABELLUM": "9x19",
		"45ACP": "45acp", "45AUTO": "45acp",
		"556X45": "556x45", "556NATO": "556x45", "223REM": "223rem", "223": "223rem",
		"762X39": "762x39",
	}
	fakeTypes = map[string][]string{
		"PISTOL": {"pistol"}, "REVOLVER": {"revolver"}, "RIFLE": {"rifle"},
		"HANDGUN": {"pistol", "revolver"},
	}
)

func (fakeRef) MakeID(s string) (string, bool) {
	id, ok := fakeMakes[foldName(strings.ReplaceAll(s, "&", ""))]
	return id, ok
}

func (fakeRef) CalibreClass(s string) (string, bool) {
	id, ok := fakeCalibres[foldName(s)]
	return id, ok
}

func (fakeRef) CalibresClose(a, b string) bool {
	return a != b && (a == "556x45" && b == "223rem" || a == "223rem" && b == "556x45")
}

func (fakeRef) TypeIDs(s string) []string { return fakeTypes[foldName(s)] }
