//go:build stress

package main

import (
	"testing"
	"time"
)

// TestStressKillNine kills the server 20 times under 8 writers that create, update
// (with and without expected_version) and reveal with Idempotency-Keys.
func TestStressKillNine(t *testing.T) {
	runKillTest(t, killTestPlan{kills: 20, writers: 8, interval: 2 * time.Second})
}

// TestStressPostgresDown stops PostgreSQL for 30 s under write load.
func TestStressPostgresDown(t *testing.T) {
	runPostgresDownTest(t, 30*time.Second, 8)
}

// TestStressClusterFailover kills the stream leader, then the lease holder, under 8
// writers on a three-node cluster with two replicas.
func TestStressClusterFailover(t *testing.T) {
	runClusterTest(t, clusterPlan{writers: 8, phase: 5 * time.Second, crossReads: 100})
}
