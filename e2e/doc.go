// Package e2e holds TaskFlow's end-to-end tests with real clients: headless
// Chromium calling the API across origins (CORS as a browser enforces it,
// and the documentation pages as a person sees them), and tokens issued by
// a real Better Auth server (testdata/betterauth).
//
// Both need tools from outside Go: /usr/bin/chromium, and Node.js with
// `npm ci` run in testdata/betterauth. Without them the tests skip, except
// when CI=true, where a missing tool fails them (.ci/run installs both).
package e2e
