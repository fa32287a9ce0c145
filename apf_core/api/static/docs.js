// Starts Swagger UI (shipped in the package) on this server's OpenAPI document.
// A separate file, not an inline script: the page's CSP allows scripts from 'self' only.
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  const ui = window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true, // #/Tag and #/Tag/operationId address a section or an operation
    filter: true, // a box that narrows the operations by tag
    persistAuthorization: true, // the key entered under "Authorize" survives a reload
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    tryItOutEnabled: false,
    validatorUrl: null, // never ask another host to validate the document
    withCredentials: false,
    syntaxHighlight: { activated: true, theme: "agate" },
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
  window.ui = ui;
  // the table of contents links are deep links: open and scroll to the tag on click
  window.addEventListener("hashchange", () => {
    ui.layoutActions.parseDeepLinkHash(window.location.hash);
  });
});
