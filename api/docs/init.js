// SPDX-License-Identifier: MIT
// Starts Swagger UI on the service's own OpenAPI document (served next to this page).
window.ui = SwaggerUIBundle({
  url: new URL("../openapi.json", window.location.href).href,
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  tryItOutEnabled: false,
  validatorUrl: null, // never send the document to an online validator
});
