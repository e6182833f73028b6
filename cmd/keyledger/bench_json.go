package main

// The helpers below read JSON that json.Valid has passed, so they look no further than
// the next token's end.

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString is the index after the string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue is the index after the value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for ; i < len(b); i++ { // a number, true, false or null
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
	}
	return i
}

// objectFields calls field with each key (as written, escapes and all) and value of
// the object that body (passed by json.Valid) is, and says whether body is an object
// and field accepted every one.
func objectFields(body []byte, field func(key, value []byte) bool) bool {
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return false
	}
	for i++; ; {
		i = skipSpace(body, i)
		if body[i] == '}' {
			return true
		}
		keyEnd := skipString(body, i)
		key := body[i+1 : keyEnd-1]
		i = skipSpace(body, skipSpace(body, keyEnd)+1) // past the colon
		valueEnd := skipValue(body, i)
		if !field(key, body[i:valueEnd]) {
			return false
		}
		if i = skipSpace(body, valueEnd); body[i] == ',' {
			i++
		}
	}
}
