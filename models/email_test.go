package models

import "testing"

func TestEmailLookAlikeProblem(t *testing.T) {
	tests := []struct {
		email   string
		refused bool
	}{
		{"lookalike@example.com", false},
		{"l00k.a-like+tag_1@mail.example.co.uk", false},
		{"j\u00fcrgen@m\u00fcller.de", false},                                                 // accented Latin letters
		{"\u0438\u0432\u0430\u043d@example.com", false},                                       // иван: Cyrillic name, Latin domain
		{"\u0438\u0432\u0430\u043d@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444", false}, // иван@пример.рф
		{"\u5c71\u7530\u305f\u308d\u3046@example.jp", false},                                  // Han with Hiragana (Japanese)
		{"\ud55c\uad6d\u8a9e@example.kr", false},                                              // Hangul with Han (Korean)
		{"\u0930\u093e\u092e\u094d@example.in", false},                                        // Devanagari with its own signs
		{"\u03b1\u03b8\u03b7\u03bd\u03b1@example.gr", false},                                  // αθηνα: Greek, not all shaped like ASCII
		{`"lookalike"@example.com`, true},                                                     // quoted name
		{"l\u043eokalike@example.com", true},                                                  // Cyrillic о among Latin
		{"lookalike@ex\u0430mple.com", true},                                                  // Cyrillic а in the domain
		{"lookali\u0307ke@example.com", true},                                                 // dot above an i
		{"lookal\u0338ike@example.com", true},                                                 // long solidus overlay
		{"\u0441\u043e\u0441\u043e@example.com", true},                                        // сосо: all Cyrillic, read as coco
		{"pay\u0440al@example.com", true},                                                     // Cyrillic р
		{"looka\u0131ike@example.com", true},                                                  // dotless ı, Latin beyond ASCII shaped like i
		{"\u03c1\u03b1\u03b3@example.com", true},                                              // ραγ: all Greek, read as pay
		{"\u5c71\u7530\u0430@example.jp", true},                                               // Han with Cyrillic
	}
	for _, tt := range tests {
		problem := EmailLookAlikeProblem(NormalizeEmail(tt.email))
		if (problem != "") != tt.refused {
			t.Errorf("EmailLookAlikeProblem(%q) = %q, want refused %v", tt.email, problem, tt.refused)
		}
	}
}
