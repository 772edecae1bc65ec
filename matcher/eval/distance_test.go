package eval

import "testing"

func TestDistance(t *testing.T) {
	tests := []struct {
		a, q string
		want int
	}{
		{"AB123456", "AB123456", 0},
		{"AB123456", "AB124356", 1},
		{"AB123456", "AB12356", 1},
		{"AB123456", "AB12?456", 0},
		{"AB123456", "*3456", 0},
		{"AB123456", "AB*", 0},
		{"AB123456", "A*6", 0},
		{"AB123456", "X*6", 1},
		{"AB123456", "", 8},
		{"", "AB", 2},
	}
	for _, tt := range tests {
		if got := Distance(tt.a, tt.q); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.q, got, tt.want)
		}
		if got := distanceWithin(tt.a, tt.q, 0); got != min(tt.want, 1) {
			t.Errorf("distanceWithin(%q, %q, 0) = %d", tt.a, tt.q, got)
		}
	}
}
