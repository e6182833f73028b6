package domain

// Mask returns the partial mask of a value, counted in Unicode code points (n):
// n ≥ 36 shows the first 8 and the last 4, 18 ≤ n < 36 the first 4 and the last 2,
// and shorter values show nothing but "***". A value may hold any text, NUL included,
// but a mask is shown in grids, histories and terminals: each control character it
// would show is replaced by U+FFFD (one for one, so the lengths rule holds).
func Mask(v Plaintext) string {
	r := []rune(v.Reveal())
	n := len(r)
	switch {
	case n >= 36:
		return ReplaceControls(string(r[:8])) + "***" + ReplaceControls(string(r[n-4:]))
	case n >= 18:
		return ReplaceControls(string(r[:4])) + "***" + ReplaceControls(string(r[n-2:]))
	default:
		return "***"
	}
}
