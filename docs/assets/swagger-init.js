// Starts Swagger UI on the /docs page. Kept in its own file (not inline in the
// page) so the page works under a Content-Security-Policy of script-src 'self'.
"use strict";

window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "BaseLayout",
    // "Authorize" keeps the bearer token across page reloads.
    persistAuthorization: true,
    // "Try it out" is on for every operation.
    tryItOutEnabled: true,
    displayRequestDuration: true,
    filter: true,
    // No calls to the public validator service.
    validatorUrl: null,
  });
});
