// The API reference page (/api/docs): Swagger UI over the generated /api/openapi.json.
// A separate file, not an inline script: the Content-Security-Policy allows scripts from 'self' only.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // areas closed at first: with every area open (about 150 operations) Swagger UI rendered only
    // the first two areas in Chromium
    docExpansion: "none",
    defaultModelsExpandDepth: 0,
    // the browser's session cookie authenticates "Try it out"; writes also need the CSRF header
    withCredentials: true,
  });
})();
