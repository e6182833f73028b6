package web

import (
	"io/fs"
	"strings"
	"testing"
)

// The embedded tree is rooted at dist/: index.html (when the UI was built) sits at its top,
// and the committed placeholder keeps the embed valid before any build.
func TestAssetsIsRootedAtDist(t *testing.T) {
	t.Parallel()
	assets := Assets()
	if _, err := fs.Stat(assets, ".gitkeep"); err != nil {
		t.Fatalf("dist/.gitkeep not at the root of Assets(): %v", err)
	}
	if !HasIndex() {
		t.Skip("UI not built; run npm run build in web/ to embed it")
	}
	index, err := fs.ReadFile(assets, "index.html")
	if err != nil {
		t.Fatalf("read index.html: %v", err)
	}
	if !strings.Contains(string(index), `<div id="root">`) {
		t.Fatalf("index.html does not mount the app")
	}
	entries, err := fs.ReadDir(assets, "assets")
	if err != nil || len(entries) == 0 {
		t.Fatalf("built UI has no assets/: %v", err)
	}
}
