// Starts Swagger UI on the API docs page (templates/drf_spectacular/swagger_ui.html).
// A port of drf-spectacular's swagger_ui.js, which the library inlines into the page and the
// site's CSP therefore blocks. The values it had templated in are read from data attributes.
(function () {
  "use strict";
  const root = document.getElementById("swagger-ui");
  const readJson = (name, fallback) => {
    const raw = root.dataset[name];
    if (!raw) return fallback;
    try {
      return JSON.parse(raw);
    } catch (error) {
      console.error("API docs: data-" + name + " is not JSON", error);
      return fallback;
    }
  };
  const swaggerSettings = readJson("settings", {});
  const oauth2Config = readJson("oauth2Config", {});
  const schemaAuthNames = readJson("schemaAuthNames", []);
  const csrfHeaderName = root.dataset.csrfHeaderName;
  const csrfToken = root.dataset.csrfToken;
  let ui;
  let schemaAuthFailed = false;
  const plugins = [];

  // After the user authorises (or logs out) in the UI, fetch the schema again with the new
  // credentials: what the schema shows may depend on who asks.
  const reloadSchemaOnAuthChange = () => {
    const reload = (original) => (...args) => {
      schemaAuthFailed = false;
      setTimeout(() => ui.specActions.download());
      return original(...args);
    };
    return {
      statePlugins: {
        auth: { wrapActions: { authorizeOauth2: reload, authorize: reload, logout: reload } },
      },
    };
  };
  if (schemaAuthNames.length > 0) plugins.push(reloadSchemaOnAuthChange);

  const isSchemaUrl = (url) =>
    ui !== undefined && url === new URL(ui.getConfigs().url, document.baseURI).href;

  const responseInterceptor = (response) => {
    if (!response.ok && isSchemaUrl(response.url)) {
      console.warn("schema request received '" + response.status + "'. disabling credentials for schema till logout.");
      if (!schemaAuthFailed) {
        // Retry once only, so a schema that refuses the credentials cannot loop.
        schemaAuthFailed = true;
        setTimeout(() => ui.specActions.download());
      }
    }
    return response;
  };

  const injectAuthCredentials = (request) => {
    let authorized;
    if (ui !== undefined) {
      const state = ui.getState().get("auth").get("authorized");
      if (state !== undefined && Object.keys(state.toJS()).length !== 0) authorized = state.toJS();
    } else if (![undefined, "{}"].includes(localStorage.authorized)) {
      authorized = JSON.parse(localStorage.authorized);
    }
    if (authorized === undefined) return;
    for (const authName of schemaAuthNames) {
      const authDef = authorized[authName];
      if (authDef === undefined || authDef.schema === undefined) continue;
      const schema = authDef.schema;
      if (schema.type === "http" && schema.scheme === "bearer") {
        request.headers["Authorization"] = "Bearer " + authDef.value;
        return;
      } else if (schema.type === "http" && schema.scheme === "basic") {
        request.headers["Authorization"] = "Basic " + btoa(authDef.value.username + ":" + authDef.value.password);
        return;
      } else if (schema.type === "apiKey" && schema.in === "header") {
        request.headers[schema.name] = authDef.value;
        return;
      } else if (schema.type === "oauth2" && authDef.token.token_type === "Bearer") {
        request.headers["Authorization"] = "Bearer " + authDef.token.access_token;
        return;
      }
    }
  };

  const requestInterceptor = (request) => {
    if (request.loadSpec && schemaAuthNames.length > 0 && !schemaAuthFailed) {
      try {
        injectAuthCredentials(request);
      } catch (error) {
        console.error("schema auth injection failed with error: ", error);
      }
    }
    // "Try it out" with the browser session: same-origin writes need the CSRF token. Only
    // same-origin requests get it, so the token never leaks to another host.
    if (!["GET", undefined].includes(request.method) && request.credentials === "same-origin") {
      request.headers[csrfHeaderName] = csrfToken;
    }
    return request;
  };

  ui = SwaggerUIBundle({
    url: root.dataset.schemaUrl,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    plugins,
    layout: "BaseLayout",
    requestInterceptor,
    responseInterceptor,
    ...swaggerSettings,
  });
  if (Object.keys(oauth2Config).length > 0) ui.initOAuth(oauth2Config);
})();
