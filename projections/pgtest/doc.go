// Package pgtest gives every test its own, brand-new PostgreSQL database.
//
// A test binary finds one PostgreSQL server, in this order:
//
//  1. KEYLEDGER_TEST_DATABASE_URL, the URL of a server on which the tests may
//     create and drop databases (its path names the maintenance database,
//     usually /postgres);
//  2. a container started with testcontainers-go, when a Docker engine answers
//     within a few seconds;
//  3. a throwaway cluster from the machine's PostgreSQL binaries
//     (projections/pgcluster) in a temp dir, tuned for speed over durability.
//
// The server starts on the first NewDatabase call and stops when the tests
// end, so a package uses it through its TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		url := pgtest.NewDatabase(t) // dropped when the test ends
//		...
//	}
//
// Each test binary (go test runs one per package, several at once) has its own
// server or, with KEYLEDGER_TEST_DATABASE_URL, its own uniquely named databases.
//
// This package is for tests only and must not be imported by production code.
package pgtest
