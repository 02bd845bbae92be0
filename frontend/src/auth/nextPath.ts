// Where sign-in sends the user afterwards. `next` comes from the URL, so anyone can craft it: only
// a path on this origin is followed, never an absolute or protocol-relative URL (an open redirect
// would make a genuine sign-in page forward people to a look-alike site).

export const SIGN_IN_PATH = "/sign-in";
export const DEFAULT_NEXT = "/runs";

// Any origin works: a path resolves against it, anything that leaves it is refused.
const PROBE_ORIGIN = "http://gapwatch.invalid";

/**
 * The same-origin path (with its search and hash) that `raw` names, else DEFAULT_NEXT.
 * The sign-in page itself is no destination either: it would send the user in a circle.
 */
export function safeNext(raw: string | null | undefined): string {
  if (!raw || !raw.startsWith("/") || /^\/[/\\]/.test(raw)) return DEFAULT_NEXT;
  // Browsers drop tabs and newlines ("/\t/evil.example" is "//evil.example") and read "\" as
  // "/": let the URL parser decide, and keep only what stays on the probe origin.
  let url: URL;
  try {
    url = new URL(raw, PROBE_ORIGIN);
  } catch {
    return DEFAULT_NEXT;
  }
  if (url.origin !== PROBE_ORIGIN || url.pathname === SIGN_IN_PATH) return DEFAULT_NEXT;
  return url.pathname + url.search + url.hash;
}

/** The sign-in page's URL that comes back to `location` (a path and its search) afterwards. */
export function signInHref(location: { pathname: string; search: string }): string {
  if (location.pathname === SIGN_IN_PATH) return SIGN_IN_PATH;
  return `${SIGN_IN_PATH}?next=${encodeURIComponent(location.pathname + location.search)}`;
}
