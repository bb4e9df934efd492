package middleware

import (
	"io"
	"net/http/httptest"
	"testing"
	"time"

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

func TestLoginFailures(t *testing.T) {
	f := NewLoginFailures(nil, 2, 100*time.Millisecond, nil)
	if _, locked := f.Locked("a@example.com"); locked {
		t.Fatal("locked before any failure")
	}
	f.Fail("a@example.com")
	if _, locked := f.Locked("a@example.com"); locked {
		t.Fatal("locked after 1 failure of 2")
	}
	f.Fail("a@example.com")
	wait, locked := f.Locked("a@example.com")
	if !locked || wait <= 0 || wait > 100*time.Millisecond {
		t.Fatalf("after 2 failures: locked %v for %v, want locked up to 100ms", locked, wait)
	}
	if _, locked := f.Locked("b@example.com"); locked {
		t.Fatal("another email is locked")
	}
	time.Sleep(120 * time.Millisecond)
	if _, locked := f.Locked("a@example.com"); locked {
		t.Fatal("still locked after the window")
	}

	f.Fail("c@example.com")
	f.Reset("c@example.com")
	f.Fail("c@example.com")
	if _, locked := f.Locked("c@example.com"); locked {
		t.Fatal("Reset did not forget the failures")
	}
}

func TestMemoryStorageExpires(t *testing.T) {
	m := newMemoryStorage()
	_ = m.Set("short", []byte("x"), 20*time.Millisecond)
	_ = m.Set("forever", []byte("y"), 0)
	if v, _ := m.Get("short"); string(v) != "x" {
		t.Fatalf("Get(short) = %q, want x", v)
	}
	time.Sleep(30 * time.Millisecond)
	if v, _ := m.Get("short"); v != nil {
		t.Fatalf("Get(short) after expiry = %q, want nothing", v)
	}
	if v, _ := m.Get("forever"); string(v) != "y" {
		t.Fatalf("Get(forever) = %q, want y", v)
	}
}
