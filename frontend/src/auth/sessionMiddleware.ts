// The one place requests learn about the session: openapi-fetch middleware that sends the
// session's CSRF token with every mutating request (the server refuses a cookie-borne POST, PUT,
// PATCH or DELETE without it) and reports a 401 answer, which means the sign-in is gone.
import type { Middleware } from "openapi-fetch";

export const CSRF_HEADER = "X-CSRF-Token";
const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** Their 401 is a wrong password or a spent link, answered on the sign-in page itself. */
const SIGN_IN_PATHS = new Set(["/api/v1/auth/sign-in", "/api/v1/auth/link"]);

export interface SessionHooks {
  /** The CSRF token of the current session, or null while signed out. */
  csrfToken: () => string | null;
  /** Called on a 401 from any call but sign-in's own. */
  onUnauthorized: () => void;
}

export function sessionMiddleware(hooks: SessionHooks): Middleware {
  return {
    onRequest({ request }) {
      const token = hooks.csrfToken();
      if (token && MUTATING.has(request.method.toUpperCase())) {
        request.headers.set(CSRF_HEADER, token);
      }
      return request;
    },
    onResponse({ response, schemaPath }) {
      if (response.status === 401 && !SIGN_IN_PATHS.has(schemaPath)) hooks.onUnauthorized();
      return response;
    },
  };
}
