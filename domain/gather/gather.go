// Package gather shares one piece of work among the callers that ask for it while
// another is under way. The commands' log checks and the read models' reveal
// snapshots both gather per organization this way; it stands under domain because
// commands and projections may not import each other and both import domain. It does
// no I/O of its own.
package gather

import "sync"

// Groups gathers asks per key: the first ask of a key with none under way starts a
// goroutine that hands the queued asks to run, at most max at a time, until none is
// waiting; the asks that arrive while run is under way wait for its next call. run
// answers the asks it is given; a caller waits for its own answer. The zero value is
// ready to use.
type Groups[A any] struct {
	mu     sync.Mutex
	queues map[string]*queue[A]
}

// queue is one key's asks waiting for the next run; a key with no run under way has
// none.
type queue[A any] struct {
	asks []A
}

// Ask queues a under key, and starts the key's runs if none is under way.
func (g *Groups[A]) Ask(key string, a A, max int, run func(asks []A)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if q, busy := g.queues[key]; busy {
		q.asks = append(q.asks, a)
		return
	}
	if g.queues == nil {
		g.queues = map[string]*queue[A]{}
	}
	q := &queue[A]{asks: []A{a}}
	g.queues[key] = q
	go g.drain(key, q, max, run)
}

// drain hands q's asks to run, max at a time, until none is waiting.
func (g *Groups[A]) drain(key string, q *queue[A], max int, run func([]A)) {
	for {
		g.mu.Lock()
		n := min(len(q.asks), max)
		if n == 0 {
			delete(g.queues, key)
			g.mu.Unlock()
			return
		}
		asks := q.asks[:n:n]
		q.asks = q.asks[n:]
		g.mu.Unlock()
		run(asks)
	}
}

// Hold makes key's asks queue as if a run were under way, until release starts the
// runs for them: for a test that needs asks to gather first.
func (g *Groups[A]) Hold(key string, max int, run func(asks []A)) (release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.queues == nil {
		g.queues = map[string]*queue[A]{}
	}
	q := &queue[A]{}
	g.queues[key] = q
	return func() { go g.drain(key, q, max, run) }
}

// Queued is how many asks of key wait for a run.
func (g *Groups[A]) Queued(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if q := g.queues[key]; q != nil {
		return len(q.asks)
	}
	return 0
}
