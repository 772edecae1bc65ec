package wire

// RefMake is a manufacturer as the reference lookup returns it.
type RefMake struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Country string   `json:"country,omitempty"`
	Aliases []string `json:"aliases,omitempty"`
	Codes   []string `json:"codes,omitempty"`
}

// RefCalibre is a calibre equivalence class as the reference lookup returns it.
type RefCalibre struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
	Close   []string `json:"close,omitempty"` // related but distinct classes
}
