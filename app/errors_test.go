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

// TestRefinedCodesNarrowAListedStatus: a refined code's status is one that
// codeStatus lists, and no code is in both tables.
func TestRefinedCodesNarrowAListedStatus(t *testing.T) {
	for code, status := range refinedStatus {
		if _, ok := statusCode[status]; !ok {
			t.Errorf("refined code %s has status %d, which no code of codeStatus has", code, status)
		}
		if _, ok := codeStatus[code]; ok {
			t.Errorf("%s is in both codeStatus and refinedStatus", code)
		}
	}
}
