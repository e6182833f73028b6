package main

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// defaultMemoryLimit is serve's soft memory limit for the Go runtime when neither
// --memory-limit nor GOMEMLIMIT sets one. Without a limit the runtime lets the heap
// grow to twice what was live at the last collection (GOGC=100), and a burst (values
// fetches of a large environment) left the process at several times its live memory:
// at 100,000 secrets the bench's peak RSS was 830-960 MB. Under 512 MiB it was 540 MB,
// at the same CPU per reveal. Lower limits trade CPU for memory: with nats-server
// 2.15.2, whose expected-sequence checks loaded whole 8 MB blocks that it holds only
// weakly, 320-384 MiB made a reveal cost 1.5-2.5 times the CPU; with 2.15.3 (round
// 12), 256 MiB ends the bench at 270 MB instead of 381 MB for 58 % more CPU per
// 100,000-value fetch and 5-13 % more per write, and at 200 MiB the collector runs all
// the time (the lag phase answers 753 of 1,000 updates a second). Round 13's smaller
// caches brought the live heap to some 120-150 MB at 100,000 secrets and the bench's
// end to 270-291 MB; 200 MiB then ends it at 213 MB, for 2.3 times the CPU per
// 100,000-value fetch and a few percent on writes and reveals. Round 14's fetch,
// which no longer copies its rows' text, ends it at 198 MB under 180 MiB, but that
// limit cost the write and grid phases a fifth to a third in a run. The live heap grows
// with the organization, and a limit near it makes every request pay for collections,
// so the default keeps room. It is soft: a larger organization needs a larger limit
// (README).
const defaultMemoryLimit int64 = 512 << 20

// minMemoryLimit refuses limits so small that the collector would run all the time:
// a limit written without its unit ("512", 512 bytes) is a mistake, not a setting.
const minMemoryLimit int64 = 32 << 20

// memoryLimitUnits are GOMEMLIMIT's units, so that the flag reads like the variable.
var memoryLimitUnits = []struct {
	suffix string
	factor int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1},
}

// parseMemoryLimit reads a memory limit the way the Go runtime reads GOMEMLIMIT (a
// whole number of bytes with an optional B, KiB, MiB, GiB or TiB suffix) or "off" for
// none (math.MaxInt64, the runtime's own "no limit").
func parseMemoryLimit(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return math.MaxInt64, nil
	}
	factor := int64(1)
	for _, u := range memoryLimitUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, factor = n, u.factor
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want a size such as 512MiB or 2GiB, or off")
	}
	if n > math.MaxInt64/factor {
		return 0, errors.New("too large")
	}
	if n*factor < minMemoryLimit {
		return 0, fmt.Errorf("at least %dMiB (a size without a unit is in bytes)", minMemoryLimit>>20)
	}
	return n * factor, nil
}

// memoryLimit is the limit serve sets: the flag's (or KEYLEDGER_MEMORY_LIMIT's) when
// given, else none when GOMEMLIMIT is set (the runtime has already applied it), else
// defaultMemoryLimit. set is false when the runtime's own setting stays.
func memoryLimit(flag, gomemlimit string) (limit int64, set bool, err error) {
	if strings.TrimSpace(flag) != "" {
		limit, err := parseMemoryLimit(flag)
		if err != nil {
			return 0, false, fmt.Errorf("KEYLEDGER_MEMORY_LIMIT %q: %w", flag, err)
		}
		return limit, true, nil
	}
	if gomemlimit != "" {
		return 0, false, nil
	}
	return defaultMemoryLimit, true, nil
}

// applyMemoryLimit sets the runtime's soft memory limit as c says and returns the
// limit in force.
func applyMemoryLimit(c *config) int64 {
	if c.memoryLimitSet {
		debug.SetMemoryLimit(c.MemoryLimit)
	}
	return debug.SetMemoryLimit(-1)
}
