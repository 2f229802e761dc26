package mibtest

// SameValue reports whether two varbind values are equal, comparing OCTET STRINGs by
// content (a handler answers []byte, a test may expect either form).
func SameValue(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && string(ab) == string(bb)
	}
	return a == b
}
