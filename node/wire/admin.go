package wire

import "github.com/fedarms/fedarms/internal/auth"

// TokenRequest is the body of POST /v1/tokens.
type TokenRequest struct {
	Agency  string   `json:"agency"`
	Country string   `json:"country"`
	Roles   []string `json:"roles"`
	Note    string   `json:"note"`
}

// NewToken is the answer to POST /v1/tokens: the secret, shown once, and the token's record.
type NewToken struct {
	Info  auth.Token `json:"info"`
	Token string     `json:"token"`
}
