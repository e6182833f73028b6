package main

import (
	"encoding/json"
	"errors"

	"github.com/keyledger/keyledger/domain/jsonscan"
)

// The bench checks the answers it reads most (secret rows, values fetches) instead of
// decoding them into their wire types: the typed client's decode was the largest part
// of what the bench spent per operation on the benchmark's two cores, CPU the server it
// measures did not get. They are read with jsonscan, which reads the compact JSON the
// server writes without reflection and refuses anything else (whitespace, escapes),
// and only what it refuses goes to encoding/json, as the log's envelopes do
// (eventstore/envelope_decode.go). Either way the checks are strict about what an
// answer must be (below), and about wholeness: the body is one JSON value, so a
// partial answer fails.

// secretAnswer is what the bench checks and keeps of an answer that is a secret row
// (wire.Secret): the fields its phases use.
type secretAnswer struct {
	id, name []byte // valid until the connection's next request
	version  int
}

// errNotASecret is a 2xx whose body is not a secret row.
var errNotASecret = errors.New("not a secret row")

// parseSecretAnswer checks that body is a secret row and reads its id, name and
// version: one JSON object whose id (a non-empty string), name (a string), version (an
// unsigned integer), environments and permissions (objects) are all there with those
// types. The typed client decoded the whole row into wire.Secret (encoding/json, its
// times parsed): on a benchConn that decode was still 46 % of the bench's CPU in the
// read-one phase, ~18 µs of the ~40 µs it spent per read (the server ~51). It does not
// look inside environments and owner or at the times, which the decode did (a
// malformed time failed it).
func parseSecretAnswer(body []byte) (secretAnswer, error) {
	if a, ok := scanSecretAnswer(body); ok {
		return a, nil
	}
	var row struct {
		ID           *string     `json:"id"`
		Name         *string     `json:"name"`
		Version      *uint64     `json:"version"`
		Environments *jsonObject `json:"environments"`
		Permissions  *jsonObject `json:"permissions"`
	}
	if json.Unmarshal(body, &row) != nil || row.ID == nil || *row.ID == "" || row.Name == nil || row.Version == nil ||
		row.Environments == nil || row.Permissions == nil {
		return secretAnswer{}, errNotASecret
	}
	return secretAnswer{id: []byte(*row.ID), name: []byte(*row.Name), version: int(*row.Version)}, nil
}

// scanSecretAnswer is parseSecretAnswer for a row jsonscan reads whole; false for
// anything else.
func scanSecretAnswer(body []byte) (secretAnswer, bool) {
	var a secretAnswer
	var have struct{ id, name, version, environments, permissions bool }
	s := jsonscan.New(body)
	ok := s.Object(func(key []byte) bool {
		switch string(key) {
		case "id":
			a.id, have.id = s.Raw()
			return have.id && len(a.id) > 0
		case "name":
			a.name, have.name = s.Raw()
			return have.name
		case "version":
			have.version = s.Number(&a.version)
			return have.version
		case "environments":
			have.environments = skipObject(&s)
			return have.environments
		case "permissions":
			have.permissions = skipObject(&s)
			return have.permissions
		}
		return s.Skip()
	})
	return a, ok && s.Done() && have.id && have.name && have.version && have.environments && have.permissions
}

// errNotValues is a 2xx whose body is not a values fetch's.
var errNotValues = errors.New("not a values fetch")

// checkValuesAnswer checks that body is a values fetch's answer (wire.Values): one JSON
// object whose values is an object of strings and whose seq is an unsigned integer.
// The typed client decoded it into wire.Values: at 20,000 values (~1.2 MB) ~50 ms of
// the bench's CPU per fetch on a busy machine, against the server's ~80 ms. Stricter
// than the decode, it refuses a missing values or seq and a null value.
func checkValuesAnswer(body []byte) error {
	if scanValuesAnswer(body) {
		return nil
	}
	var fetch struct {
		Values map[string]jsonString `json:"values"`
		Seq    *uint64               `json:"seq"`
	}
	if json.Unmarshal(body, &fetch) != nil || fetch.Values == nil || fetch.Seq == nil {
		return errNotValues
	}
	return nil
}

// scanValuesAnswer is checkValuesAnswer for an answer jsonscan reads whole.
func scanValuesAnswer(body []byte) bool {
	var haveValues, haveSeq bool
	var seq int
	s := jsonscan.New(body)
	ok := s.Object(func(key []byte) bool {
		switch string(key) {
		case "values":
			haveValues = s.Object(func([]byte) bool { _, ok := s.Raw(); return ok })
			return haveValues
		case "seq":
			haveSeq = s.Number(&seq)
			return haveSeq
		}
		return s.Skip()
	})
	return ok && s.Done() && haveValues && haveSeq
}

// skipObject reads an object (of any values) with s.
func skipObject(s *jsonscan.Scanner) bool {
	return s.Object(func([]byte) bool { return s.Skip() })
}

// jsonObject decodes any JSON object and refuses every other value (null leaves a
// pointer to it nil).
type jsonObject struct{}

func (*jsonObject) UnmarshalJSON(b []byte) error {
	if b[0] != '{' {
		return errors.New("not an object")
	}
	return nil
}

// jsonString decodes any JSON string and refuses every other value, null included.
type jsonString struct{}

func (*jsonString) UnmarshalJSON(b []byte) error {
	if b[0] != '"' {
		return errors.New("not a string")
	}
	return nil
}
