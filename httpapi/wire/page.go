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
	out := struct {
		Items      []T     `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}{Items: p.Items}
	if p.NextCursor != "" {
		out.NextCursor = &p.NextCursor
	}
	return json.Marshal(out)
}

// List is a whole list in one response, wrapped so that fields can be added later.
type List[T any] struct {
	Items []T `json:"items"`
}
