package models

import (
	"testing"
	"time"
)

func TestTokenCutoffRefuses(t *testing.T) {
	cutoff := time.Date(2026, 3, 1, 12, 0, 0, 400_000_000, time.UTC) // 12:00:00.4
	local := "0190f3c2-8a1b-7c3d-9e4f-5a6b7c8d9e0f"
	external := ExternalUserID("https://auth.example.test", "ba_user")
	at := func(d time.Duration) *time.Time { issued := cutoff.Truncate(time.Second).Add(d); return &issued }
	tests := []struct {
		name     string
		cutoff   TokenCutoff
		issuedAt *time.Time
		want     bool
	}{
		{"no cutoff", TokenCutoff{UserID: local}, at(0), false},
		{"no iat", TokenCutoff{UserID: local, NotBefore: cutoff}, nil, true},
		{"deleted account", TokenCutoff{UserID: local, NotBefore: cutoff, AccountDeleted: true}, at(time.Hour), true},
		{"deleted external account, token from before", TokenCutoff{UserID: external, NotBefore: cutoff, AccountDeleted: true}, at(TokenClockSkew), true},
		{"deleted external account, token from after", TokenCutoff{UserID: external, NotBefore: cutoff, AccountDeleted: true}, at(TokenClockSkew + time.Second), false},
		{"deleted external account, no iat", TokenCutoff{UserID: external, NotBefore: cutoff, AccountDeleted: true}, nil, true},
		{"own token in the cutoff's second", TokenCutoff{UserID: local, NotBefore: cutoff}, at(0), true},
		{"own token the second after", TokenCutoff{UserID: local, NotBefore: cutoff}, at(time.Second), false},
		{"frontend token the second after", TokenCutoff{UserID: external, NotBefore: cutoff}, at(time.Second), true},
		{"frontend token at the leeway's end", TokenCutoff{UserID: external, NotBefore: cutoff}, at(TokenClockSkew), true},
		{"frontend token past the leeway", TokenCutoff{UserID: external, NotBefore: cutoff}, at(TokenClockSkew + time.Second), false},
	}
	for _, tt := range tests {
		if got := tt.cutoff.Refuses(tt.issuedAt); got != tt.want {
			t.Errorf("%s: Refuses = %v, want %v", tt.name, got, tt.want)
		}
	}
}
