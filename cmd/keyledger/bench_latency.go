package main

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"
)

// latencyLog is --latency-log: every timed operation of every run, one line each, in
// the order the operations started, so that what a percentile summarizes can be
// looked at in time. Round 28 found the create phase's slowest 1 % in bursts: every
// client's request held up together, in the moments the server's garbage collector
// was marking; a table of percentiles cannot show that, a line per operation can.
//
// The file is tab-separated with a header line: the run (1 without --runs), the
// phase, when the operation started and how long it took (milliseconds from the
// phase's start, microsecond precision), and "ok" or the error's kind as the table
// counts it (errorKind). A phase's lines are written when it has ended, untimed.
type latencyLog struct {
	f   *os.File
	w   *bufio.Writer
	run int
	err error
}

// benchOp is one operation as the latency log records it: when it started (since
// its phase's start), how long it took, and its error's kind ("" when it succeeded).
type benchOp struct {
	start, took time.Duration
	failed      string
}

// latencyLogHeader names the columns.
const latencyLogHeader = "run\tphase\tstart_ms\tlatency_ms\toutcome\n"

// createLatencyLog creates (or truncates) the file at path and writes its header.
func createLatencyLog(path string) (*latencyLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: latency log: %w", err)
	}
	l := &latencyLog{f: f, w: bufio.NewWriterSize(f, 1<<16), run: 1}
	if _, err := l.w.WriteString(latencyLogHeader); err != nil {
		return nil, errors.Join(fmt.Errorf("bench: latency log: %w", err), f.Close())
	}
	return l, nil
}

// write appends one phase's operations, gathered per worker, in the order they
// started. The first error is kept (and every later write skipped) for close.
func (l *latencyLog) write(phase string, perWorker [][]benchOp) {
	if l == nil || l.err != nil {
		return
	}
	var ops []benchOp
	for _, w := range perWorker {
		ops = append(ops, w...)
	}
	slices.SortFunc(ops, func(a, b benchOp) int { return cmp.Compare(a.start, b.start) })
	var line []byte
	for _, op := range ops {
		line = strconv.AppendInt(line[:0], int64(l.run), 10)
		line = append(line, '\t')
		line = append(line, phase...)
		line = append(line, '\t')
		line = appendMillis(line, op.start)
		line = append(line, '\t')
		line = appendMillis(line, op.took)
		line = append(line, '\t')
		line = append(line, cmp.Or(op.failed, "ok")...)
		line = append(line, '\n')
		if _, err := l.w.Write(line); err != nil {
			l.err = fmt.Errorf("bench: latency log: %w", err)
			return
		}
	}
}

// appendMillis appends d in milliseconds with three decimals (whole microseconds).
func appendMillis(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, float64(d.Microseconds())/1000, 'f', 3, 64)
}

// close flushes and closes the file, and reports the first error of any write.
func (l *latencyLog) close() error {
	if l == nil {
		return nil
	}
	err := l.err
	if ferr := l.w.Flush(); ferr != nil && err == nil {
		err = fmt.Errorf("bench: latency log: %w", ferr)
	}
	if cerr := l.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("bench: latency log: %w", cerr)
	}
	return err
}
