package httpapi

import (
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// placeholderPage is served at / when the binary was built without the dashboard.
const placeholderPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Keyledger</title></head>
<body><h1>Keyledger</h1>
<p>The web UI is not built into this binary. Run <code>make web</code> and rebuild, or use the API under <code>/api/v1</code>.</p>
</body></html>
`

// ui serves the built dashboard: files by path, and index.html for any other path so
// that client-side routes survive a reload.
type ui struct {
	assets fs.FS
	index  []byte
}

func newUI(assets fs.FS) *ui {
	u := &ui{assets: assets}
	if assets != nil {
		if b, err := fs.ReadFile(assets, "index.html"); err == nil {
			u.index = b
		}
	}
	return u
}

func (u *ui) serve(c *fiber.Ctx) error {
	if isAPIPath(c.Path()) {
		return errNotFound()
	}
	if u.index == nil {
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Type("html", "utf-8")
		return c.SendString(placeholderPage)
	}
	name := strings.TrimPrefix(path.Clean("/"+c.Path()), "/")
	if name != "" && name != "index.html" {
		if b, err := fs.ReadFile(u.assets, name); err == nil {
			if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
				c.Set(fiber.HeaderContentType, ct)
			} else {
				c.Set(fiber.HeaderContentType, fiber.MIMEOctetStream)
			}
			if strings.HasPrefix(name, "assets/") {
				// Vite names these files by content hash.
				c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
			}
			return c.Send(b)
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Type("html", "utf-8")
	return c.Send(u.index)
}
