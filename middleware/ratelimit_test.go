package middleware

import (
	"io"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func TestClientIP(t *testing.T) {
	cases := []struct {
		name    string
		trusted []string
		header  string
		value   string
		want    string
	}{
		{"untrusted peer: header ignored", nil, "X-Forwarded-For", "203.0.113.9", "0.0.0.0"},
		{"trusted peer: X-Real-IP", []string{"0.0.0.0"}, "X-Real-IP", "203.0.113.9", "203.0.113.9"},
		{"trusted peer: last X-Forwarded-For entry", []string{"0.0.0.0"}, "X-Forwarded-For", "6.6.6.6, 203.0.113.9", "203.0.113.9"},
		{"trusted peer: IPv6", []string{"0.0.0.0"}, "X-Real-IP", "2001:db8::1", "2001:db8::1"},
		{"trusted peer: garbage falls back to the peer", []string{"0.0.0.0"}, "X-Real-IP", "not an ip", "0.0.0.0"},
		{"trusted peer: no header falls back to the peer", []string{"0.0.0.0"}, "X-Real-IP", "", "0.0.0.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := fiber.New(fiber.Config{EnableTrustedProxyCheck: true, TrustedProxies: tc.trusted, ProxyHeader: tc.header})
			app.Get("/", func(c *fiber.Ctx) error { return c.SendString(ClientIP(c)) })
			req := httptest.NewRequest("GET", "/", nil)
			if tc.value != "" {
				req.Header.Set(tc.header, tc.value)
			}
			resp, err := app.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if string(body) != tc.want {
				t.Fatalf("ClientIP = %q, want %q", body, tc.want)
			}
		})
	}
}
