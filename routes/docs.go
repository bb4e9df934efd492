package routes

import (
	"io/fs"

	"github.com/gofiber/fiber/v2"

	"taskflow/docs"
)

// docsAssetCacheControl is sent with every documentation asset. The assets change
// only with a new release of the server, so a day of caching is safe.
const docsAssetCacheControl = "public, max-age=86400"

// Docs registers the documentation routes on r: the OpenAPI document
// (GET /openapi.json), the Swagger UI page (GET /docs), the Redoc page
// (GET /redoc) and the files those pages load (GET /docs/assets/*). They are
// meant for development: the caller decides whether to register them at all.
// An unknown asset is fiber.ErrNotFound, left to the app's error handler.
func Docs(r fiber.Router) {
	r.Get("/openapi.json", docsOpenAPI)
	r.Get("/docs", docsSwaggerPage)
	r.Get("/redoc", docsRedocPage)
	r.Get(docs.AssetsPath+"*", docsAsset)
}

func docsOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(docs.OpenAPI())
}

func docsSwaggerPage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(docs.SwaggerPage())
}

func docsRedocPage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(docs.RedocPage())
}

func docsAsset(c *fiber.Ctx) error {
	name := c.Params("*")
	if !fs.ValidPath(name) || name == "." {
		return fiber.ErrNotFound
	}
	data, gzipped, err := docs.Asset(name)
	if err != nil {
		// Missing file, or a directory.
		return fiber.ErrNotFound
	}
	if gzipped {
		c.Vary(fiber.HeaderAcceptEncoding)
		// AcceptsEncodings says yes to anything when the header is absent.
		if c.Get(fiber.HeaderAcceptEncoding) != "" && c.AcceptsEncodings("gzip") == "gzip" {
			c.Set(fiber.HeaderContentEncoding, "gzip")
		} else if data, err = docs.Gunzip(data); err != nil {
			return err
		}
	}
	c.Set(fiber.HeaderContentType, docs.ContentType(name))
	c.Set(fiber.HeaderCacheControl, docsAssetCacheControl)
	return c.Send(data)
}
