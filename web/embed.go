// Package web holds the Keyledger dashboard: a TypeScript + React single-page app built with
// Vite into dist/ and embedded into the Go binary, so that one file serves API and UI.
//
// The package owns only the built assets; it must not import any other Keyledger package.
// dist/.gitkeep is committed so that the embed compiles before the UI has been built: such a
// binary serves an empty file system and the API alone.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Assets returns the built dashboard rooted at dist/ (index.html, assets/…). The HTTP layer
// serves it for every path outside /api and falls back to index.html for unknown paths, so
// that client-side routes such as /orgs/{id}/secrets survive a reload.
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		// fs.Sub only fails for an invalid path, and "dist" is a constant valid path.
		panic(err)
	}
	return sub
}

// HasIndex reports whether the embedded build contains index.html, that is whether the UI
// was built before the binary. A server can use it to say so at start-up instead of
// answering 404 for the dashboard.
func HasIndex() bool {
	_, err := fs.Stat(Assets(), "index.html")
	return err == nil
}
