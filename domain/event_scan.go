package domain

import "github.com/keyledger/keyledger/domain/jsonscan"

// scanEvent reads the payload of the events a log holds most of (reveals, then the
// secrets' creations, updates and deletions) without reflection, when it is in the
// shape json.Marshal wrote it: encoding/json's Unmarshal of the event was the larger
// part of opening an event once the envelope around it was read without it, and
// opening events is most of a replay and of a rebuild's follower. It returns false for
// any other type and for anything it cannot read exactly as encoding/json would, and
// DecodeEvent then leaves the payload to encoding/json (FuzzScanEventMatchesEncodingJSON).
func scanEvent(eventType string, data []byte) (Event, bool) {
	s := eventScanner{jsonscan.New(data)}
	var ev Event
	var ok bool
	switch eventType {
	case "SecretRevealed":
		ev, ok = s.secretRevealed()
	case "SecretCreated":
		ev, ok = s.secretCreated()
	case "SecretUpdated":
		ev, ok = s.secretUpdated()
	case "SecretDeleted":
		ev, ok = s.secretDeleted()
	}
	return ev, ok && s.Done()
}

// eventScanner reads the compact JSON of an event's payload (see scanEvent).
type eventScanner struct {
	jsonscan.Scanner
}

func (s *eventScanner) secretRevealed() (SecretRevealed, bool) {
	var e SecretRevealed
	ok := s.Fields(func(key []byte) (bit uint32, ok bool) {
		switch string(key) {
		case "secret_id":
			bit, ok = 1<<0, s.Str(&e.SecretID)
		case "env":
			bit, ok = 1<<1, s.env(&e.Env)
		case "version":
			bit, ok = 1<<2, s.Number(&e.Version)
		}
		return bit, ok
	})
	return e, ok
}

func (s *eventScanner) secretCreated() (SecretCreated, bool) {
	var e SecretCreated
	ok := s.Fields(func(key []byte) (bit uint32, ok bool) {
		switch string(key) {
		case "name":
			bit, ok = 1<<0, s.Str((*string)(&e.Name))
		case "description":
			bit, ok = 1<<1, s.Str(&e.Description)
		case "owner_id":
			bit, ok = 1<<2, s.Str(&e.OwnerID)
		case "values":
			bit, ok = 1<<3, s.values(&e.Values)
		}
		return bit, ok
	})
	return e, ok
}

func (s *eventScanner) secretUpdated() (SecretUpdated, bool) {
	var e SecretUpdated
	ok := s.Fields(func(key []byte) (bit uint32, ok bool) {
		switch string(key) {
		case "description":
			e.Description = new(string)
			bit, ok = 1<<0, s.Str(e.Description)
		case "set":
			bit, ok = 1<<1, s.values(&e.Set)
		case "removed":
			bit, ok = 1<<2, s.environments(&e.Removed)
		}
		return bit, ok
	})
	return e, ok
}

func (s *eventScanner) secretDeleted() (SecretDeleted, bool) {
	var e SecretDeleted
	ok := s.Fields(func(key []byte) (bit uint32, ok bool) {
		if string(key) == "name" {
			bit, ok = 1<<0, s.Str((*string)(&e.Name))
		}
		return bit, ok
	})
	return e, ok
}

// values reads a map of value versions by environment. A key given twice (which
// encoding/json merges) is not read.
func (s *eventScanner) values(out *map[Environment]ValueVersion) bool {
	m := map[Environment]ValueVersion{}
	ok := s.Object(func(key []byte) bool {
		env := Environment(key)
		if _, twice := m[env]; twice {
			return false
		}
		var v ValueVersion
		ok := s.Fields(func(key []byte) (bit uint32, ok bool) {
			switch string(key) {
			case "version":
				bit, ok = 1<<0, s.Number(&v.Version)
			case "mask":
				bit, ok = 1<<1, s.Str(&v.Mask)
			case "sealed":
				bit, ok = 1<<2, s.Str(&v.Sealed)
			}
			return bit, ok
		})
		m[env] = v
		return ok
	})
	if ok {
		*out = m
	}
	return ok
}

// env reads an environment; the three there are take no allocation.
func (s *eventScanner) env(out *Environment) bool {
	b, ok := s.Raw()
	if !ok {
		return false
	}
	switch Environment(b) {
	case Development:
		*out = Development
	case Staging:
		*out = Staging
	case Production:
		*out = Production
	default:
		*out = Environment(b)
	}
	return true
}

// environments reads a list of environments.
func (s *eventScanner) environments(out *[]Environment) bool {
	envs := []Environment{}
	ok := s.Array(func() bool {
		var env Environment
		ok := s.env(&env)
		envs = append(envs, env)
		return ok
	})
	if ok {
		*out = envs
	}
	return ok
}
