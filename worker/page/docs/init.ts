// Starts Swagger UI (swagger-ui-bundle.js, loaded before this script) on this Worker's own
// /openapi.json. A script file, not an inline one, so the page works under a CSP without
// 'unsafe-inline'; no validator badge, which would send the document to validator.swagger.io.
// Built into worker/public/docs/init.js by worker/scripts/build-page.mjs.

interface SwaggerUIOptions {
  url: string;
  dom_id: string;
  deepLinking: boolean;
  validatorUrl: null;
  persistAuthorization: boolean;
  tryItOutEnabled: boolean;
}
declare const SwaggerUIBundle: (options: SwaggerUIOptions) => unknown;

SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  // the token typed into "Authorize" stays in this tab only
  persistAuthorization: false,
  tryItOutEnabled: true,
});
