package main

import (
	"bytes"
	"encoding/json"
	"errors"
)

// The bench checks the answers it reads most (secret rows, values fetches) by hand
// instead of decoding them into their wire types: the typed client's decode was the
// largest part of what the bench spent per operation on the benchmark's two cores,
// CPU the server it measures did not get. The checks stay strict about what an answer
// must be (below), and about wholeness: the body is one well-formed JSON value, so a
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
// version. The typed client decoded the whole row into wire.Secret (encoding/json, its
// times parsed): on a benchConn that decode was still 46 % of the bench's CPU in the
// read-one phase, ~18 µs of the ~40 µs it spent per read (the server ~51). This check
// takes ~3 µs (15 µs for the decode, alone on one core): the body is well-formed JSON
// (json.Valid), one object whose id (a non-empty string), name (a
// string), version (an unsigned integer), environments and permissions (objects) are
// all there with those types, spelled as the server writes them. It no longer looks
// inside environments and owner or at the times, which the decode did (a malformed
// time failed it).
func parseSecretAnswer(body []byte) (secretAnswer, error) {
	var a secretAnswer
	if !json.Valid(body) {
		return a, errNotASecret
	}
	var have struct{ id, name, version, environments, permissions bool }
	ok := objectFields(body, func(key, value []byte) bool {
		var ok bool
		switch string(key) {
		case "id":
			a.id, ok = jsonText(value)
			ok = ok && len(a.id) > 0
			have.id = ok
		case "name":
			a.name, ok = jsonText(value)
			have.name = ok
		case "version":
			var v uint64
			v, ok = jsonUint(value)
			a.version = int(v)
			have.version = ok
		case "environments":
			ok = value[0] == '{'
			have.environments = ok
		case "permissions":
			ok = value[0] == '{'
			have.permissions = ok
		default:
			ok = true
		}
		return ok
	})
	if !ok || !have.id || !have.name || !have.version || !have.environments || !have.permissions {
		return a, errNotASecret
	}
	return a, nil
}

// errNotValues is a 2xx whose body is not a values fetch's.
var errNotValues = errors.New("not a values fetch")

// checkValuesAnswer checks that body is a values fetch's answer (wire.Values): one
// well-formed JSON object whose values is an object of strings and whose seq is an
// unsigned integer. The typed client decoded it into wire.Values: at 20,000 values
// (~1.2 MB) ~50 ms of the bench's CPU per fetch on a busy machine, against the server's
// ~80 ms; this check takes ~9 ms alone on one core (json.Valid most of it). Stricter than the decode, it
// refuses a missing values or seq and a null value.
func checkValuesAnswer(body []byte) error {
	if !json.Valid(body) {
		return errNotValues
	}
	var haveValues, haveSeq bool
	ok := objectFields(body, func(key, value []byte) bool {
		switch string(key) {
		case "values":
			haveValues = value[0] == '{' && objectFields(value, func(_, v []byte) bool { return v[0] == '"' })
			return haveValues
		case "seq":
			_, haveSeq = jsonUint(value)
			return haveSeq
		}
		return true
	})
	if !ok || !haveValues || !haveSeq {
		return errNotValues
	}
	return nil
}

// jsonText is the text of a JSON string value, unescaped.
func jsonText(value []byte) ([]byte, bool) {
	if value[0] != '"' {
		return nil, false
	}
	if bytes.IndexByte(value, '\\') < 0 {
		return value[1 : len(value)-1], true
	}
	var s string
	if json.Unmarshal(value, &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

// jsonUint is a JSON number that is an integer of at most 18 digits, without a sign.
func jsonUint(value []byte) (uint64, bool) {
	if len(value) == 0 || len(value) > 18 {
		return 0, false
	}
	var n uint64
	for _, d := range value {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + uint64(d-'0')
	}
	return n, true
}
