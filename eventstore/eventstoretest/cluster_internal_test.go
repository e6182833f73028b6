package eventstoretest

import (
	"net"
	"strconv"
	"testing"
)

// A port that is taken again between being found free and being bound by a node (in
// CI: an outgoing connection of a test running in parallel) made the node never
// listen, and NewCluster failed after 30 s ("node n1 not ready for connections").
// It now starts the cluster again on other ports.
func TestClusterStartsAgainWhenAPortWasTaken(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	calls := 0
	ports := func(count int) ([]int, error) {
		calls++
		got, err := freePorts(count)
		if calls == 1 && err == nil {
			got[2] = port // node 1's client port
		}
		return got, err
	}
	c := NewCluster(t, 3, func(o *clusterOptions) { o.ports = ports })
	if calls != 2 {
		t.Fatalf("the cluster was started %d times, want 2 (the first on a taken port)", calls)
	}
	for i, u := range c.URLs() {
		if u == "nats://127.0.0.1:"+strconv.Itoa(port) {
			t.Fatalf("node %d is on the taken port", i)
		}
		if c.Server(i) == nil {
			t.Fatalf("node %d is not running", i)
		}
	}
}
