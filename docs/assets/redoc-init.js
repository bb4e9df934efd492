// Starts Redoc on the /redoc page. Kept in its own file (not inline in the
// page) so the page works under a Content-Security-Policy of script-src 'self'.
"use strict";

Redoc.init(
  "/openapi.json",
  {
    expandResponses: "200,201",
    pathInMiddlePanel: true,
    requiredPropsFirst: true,
  },
  document.getElementById("redoc-container"),
);
