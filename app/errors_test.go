package app

import "testing"

// TestStatusCodeIsCodeStatusBackwards: no status is listed for two codes,
// or reading the table backwards would name only one of them.
func TestStatusCodeIsCodeStatusBackwards(t *testing.T) {
	if len(statusCode) != len(codeStatus) {
		t.Fatalf("codeStatus has %d codes but %d distinct statuses: a status is listed twice", len(codeStatus), len(statusCode))
	}
	for code, status := range codeStatus {
		if got := statusCode[status]; got != code {
			t.Errorf("statusCode[%d] = %s, want %s", status, got, code)
		}
	}
}
