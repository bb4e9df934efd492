// Package docs holds TaskFlow's OpenAPI document and the pages that render it.
//
// openapi.json in this folder is the hand-maintained description of the HTTP API.
// The pages (Swagger UI and Redoc) and every file they load are embedded in the
// binary, so the server needs no CDN to show its documentation. The package knows
// nothing about HTTP routing: the routes package serves what it exposes.
package docs

import (
	"bytes"
	"compress/gzip"
	"embed"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
)

//go:embed openapi.json
var openAPI string

//go:embed pages/swagger.html
var swaggerPage string

//go:embed pages/redoc.html
var redocPage string

//go:embed assets
var assets embed.FS

// AssetsPath is the URL path under which the pages expect Assets to be served.
const AssetsPath = "/docs/assets/"

// OpenAPI returns the OpenAPI 3 document (JSON) describing the API.
// Each call returns a fresh copy that the caller may modify.
func OpenAPI() []byte { return []byte(openAPI) }

// SwaggerPage returns the HTML page that renders the OpenAPI document with
// Swagger UI. It loads /openapi.json and its scripts and styles from AssetsPath,
// and contains no inline script. Each call returns a fresh copy.
func SwaggerPage() []byte { return []byte(swaggerPage) }

// RedocPage returns the HTML page that renders the OpenAPI document with Redoc.
// It loads /openapi.json and its scripts and styles from AssetsPath, and contains
// no inline script. Each call returns a fresh copy.
func RedocPage() []byte { return []byte(redocPage) }

// Assets returns the files the pages load (scripts, style sheets, icon) together
// with their licences, at the root of the returned file system: for example
// "swagger-ui-bundle.js", served as AssetsPath + "swagger-ui-bundle.js".
func Assets() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		// "assets" is a valid, embedded directory name: this cannot happen.
		panic(err)
	}
	return sub
}

// Asset returns the asset served as name. The large bundles are stored
// gzip-compressed as name+".gz" (they are most of the binary's size
// otherwise): for those gzipped is true, and the caller either sends data as
// is with Content-Encoding: gzip or asks for it decompressed with Gunzip.
func Asset(name string) (data []byte, gzipped bool, err error) {
	if strings.HasSuffix(name, ".gz") {
		return nil, false, fs.ErrNotExist // compressed files are reached by their plain name only
	}
	data, err = fs.ReadFile(Assets(), name+".gz")
	if err == nil {
		return data, true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	data, err = fs.ReadFile(Assets(), name)
	return data, false, err
}

// Gunzip decompresses an asset that Asset returned gzipped, for clients that
// do not accept gzip.
func Gunzip(data []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// ContentType returns the Content-Type to serve an asset with, chosen by the
// extension of its name (ignoring a final .gz); unknown extensions get
// application/octet-stream.
func ContentType(name string) string {
	name = strings.TrimSuffix(name, ".gz")
	if ct, ok := contentTypes[strings.ToLower(path.Ext(name))]; ok {
		return ct
	}
	return "application/octet-stream"
}

var contentTypes = map[string]string{
	".css":  "text/css; charset=utf-8",
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".json": "application/json",
	".map":  "application/json",
	".md":   "text/markdown; charset=utf-8",
	".png":  "image/png",
	".svg":  "image/svg+xml",
	".txt":  "text/plain; charset=utf-8",
}
