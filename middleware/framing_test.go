package middleware

import (
	"strings"
	"testing"
)

func TestAmbiguousBodyLength(t *testing.T) {
	tests := []struct {
		raw  string
		want bool
	}{
		{"Host: x\r\n\r\n", false},
		{"Host: x\r\nContent-Length: 2\r\n\r\n", false},
		{"Host: x\r\ntransfer-encoding: Chunked \r\n\r\n", false},
		{"Host: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", true},
		{"Host: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n", true},
		{"Host: x\r\ncontent-length: 2\r\nTRANSFER-ENCODING: chunked\r\n\r\n", true},
		{"Host: x\r\nTransfer-Encoding: identity\r\n\r\n", true},
		{"Host: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", true},
		{"Host: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", true},
		// Names that merely contain a framing field's name are not it.
		{"Host: x\r\nX-Content-Length: 2\r\nX-Transfer-Encoding: gzip\r\n\r\n", false},
	}
	for _, tt := range tests {
		if got := ambiguousBodyLength([]byte(tt.raw)); got != tt.want {
			t.Errorf("ambiguousBodyLength(%q) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

// BenchmarkAmbiguousBodyLength reads the header block of a browser's
// request carrying an 8 KiB bearer token, the largest the API takes.
func BenchmarkAmbiguousBodyLength(b *testing.B) {
	raw := []byte("Host: api.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\n" +
		"Accept: application/json\r\nAccept-Language: en-GB,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Origin: https://app.example.com\r\nReferer: https://app.example.com/\r\nContent-Type: application/json\r\n" +
		"Content-Length: 120\r\nAuthorization: Bearer " + strings.Repeat("a", 8<<10) + "\r\n\r\n")
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if ambiguousBodyLength(raw) {
			b.Fatal("a plain request read as ambiguous")
		}
	}
}
