package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The bench sums PostgreSQL's CPU from the processes named postgres, whatever their
// command line, and counts a backend that started during a phase in full.
func TestReadProcessTicksFindsProcessesByName(t *testing.T) {
	t.Parallel()
	proc := t.TempDir()
	write := func(pid, stat string) {
		if err := os.MkdirAll(filepath.Join(proc, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proc, pid, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// utime and stime are fields 14 and 15.
	write("101", "101 (postgres) S 1 101 101 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 0 0\n")
	write("102", "102 (postgres) R 101 101 101 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 100 0 0\n")
	write("103", "103 (keyledger) R 1 103 103 0 -1 4194560 100 0 0 0 900 100 0 0 20 0 1 0 100 0 0\n")
	write("104", "104 (a) (postgres) R 1 104 104 0 -1 4194560 100 0 0 0 900 100 0 0 20 0 1 0 100 0 0\n")
	write("self", "not a pid")
	got := readProcessTicks(proc, "postgres")
	if len(got) != 2 || got[101] != 300 || got[102] != 10 {
		t.Fatalf("postgres ticks: %v, want 101:300 102:10", got)
	}
	// 101 used 20 more, 102 ended, 105 started and used 5.
	after := map[int]int64{101: 320, 105: 5}
	if n := ticksSince(got, after); n != 25 {
		t.Fatalf("ticks since: %d, want 25", n)
	}
}
