package wire

import "encoding/json"

// Page is one page of a cursor-paginated list. NextCursor is empty on the last page,
// which the wire writes as null (API.md's "next_cursor": null); Go code compares it
// with "" rather than dereferencing a pointer.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// MarshalJSON writes an empty NextCursor as null, as the contract has it.
func (p Page[T]) MarshalJSON() ([]byte, error) {
	return json.Marshal(p.Encodable())
}

// EncodablePage is a Page in the form encoding/json writes as the contract has it.
type EncodablePage[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// Encodable is p ready for encoding/json without MarshalJSON: encoding/json scans and
// compacts whatever a MarshalJSON returns, a second pass over the whole page that cost
// a fifth of a grid page's CPU. Handlers encode this.
func (p Page[T]) Encodable() EncodablePage[T] {
	out := EncodablePage[T]{Items: p.Items}
	if p.NextCursor != "" {
		out.NextCursor = &p.NextCursor
	}
	return out
}

// List is a whole list in one response, wrapped so that fields can be added later.
type List[T any] struct {
	Items []T `json:"items"`
}
