package projections

// PageRowsSQL is the grid page's query, for a test that reads its plan.
const PageRowsSQL = pageRowsSQL
