package domain_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keyledger/keyledger/domain"
)

func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string
		want  string
	}{
		// The API's examples: 36 and 40 characters.
		{"API example sk_live (36)", "sk_live_" + "51HxYzAbCdEfGhIjKlMnOpQr" + "RgA1", "sk_live_***RgA1"},
		{"API example sk_test (40)", "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dcKx0p" + "x9Q2", "sk_test_***x9Q2"},

		// Boundaries, in ASCII.
		{"empty", "", "***"},
		{"1 character", "a", "***"},
		{"17 characters", "abcdefghijklmnopq", "***"},
		{"18 characters", "abcdefghijklmnopqr", "abcd***qr"},
		{"35 characters", "abcdefghijklmnopqrstuvwxyz012345678", "abcd***78"},
		{"36 characters", "abcdefghijklmnopqrstuvwxyz0123456789", "abcdefgh***6789"},
		{"37 characters", "abcdefghijklmnopqrstuvwxyz0123456789!", "abcdefgh***789!"},
		{"64 KiB", strings.Repeat("a", 64*1024-4) + "tail", "aaaaaaaa***tail"},

		// Counted in code points, not bytes: multi-byte values at the same boundaries.
		{"17 emoji (68 bytes)", strings.Repeat("🔑", 17), "***"},
		{"17 accented letters (34 bytes)", strings.Repeat("é", 17), "***"},
		{"18 accented letters", "àéîõü" + strings.Repeat("x", 11) + "ñç", "àéîõ***ñç"},
		{"18 code points with emoji", "🔑🔒🔓🗝" + strings.Repeat("x", 12) + "ñé", "🔑🔒🔓🗝***ñé"},
		{"35 code points with emoji", "ünïc" + strings.Repeat("z", 29) + "ß🙂", "ünïc***ß🙂"},
		{"36 code points with emoji", "ünïcødé!" + strings.Repeat("z", 24) + "🙂€ßé", "ünïcødé!***🙂€ßé"},
		{"36 emoji", strings.Repeat("🔑", 36), "🔑🔑🔑🔑🔑🔑🔑🔑***🔑🔑🔑🔑"},
		// A thumbs-up with a skin tone is two code points, so nine of them are 18.
		{"skin-tone emoji counted per code point", strings.Repeat("👍🏽", 9), "👍🏽👍🏽***👍🏽"},
		// "é" written as e + combining accent is two code points.
		{"combining accents counted per code point", strings.Repeat("e\u0301", 9), "e\u0301e\u0301***e\u0301"},
		{"CJK", "秘密鍵" + strings.Repeat("値", 30) + "終わり", "秘密鍵値値値値値***値終わり"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := domain.Mask(domain.NewPlaintext(tt.value))
			if got != tt.want {
				t.Fatalf("Mask(%d code points) = %q, want %q", utf8.RuneCountInString(tt.value), got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("mask %q is not valid UTF-8", got)
			}
		})
	}
}

// TestMaskShowsAtMostTwelveCharacters checks every length up to 64: a mask never shows
// more of the value than the rule allows, and short values show nothing.
func TestMaskShowsAtMostTwelveCharacters(t *testing.T) {
	t.Parallel()
	for n := 0; n <= 64; n++ {
		v := strings.Repeat("é", n)
		shown := utf8.RuneCountInString(domain.Mask(domain.NewPlaintext(v))) - 3
		want := 0
		switch {
		case n >= 36:
			want = 12
		case n >= 18:
			want = 6
		}
		if shown != want {
			t.Errorf("n=%d: mask shows %d characters, want %d", n, shown, want)
		}
	}
}
