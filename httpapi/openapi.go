package httpapi

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// openAPIDocument is the hand-written OpenAPI 3.1 description of the routes this
// package serves; TestOpenAPICoversEveryRoute keeps the two in step.
//
//go:embed openapi.json
var openAPIDocument []byte

func (s *Server) openapi(c *fiber.Ctx) error {
	c.Type("json", "utf-8")
	return c.Send(openAPIDocument)
}
