// What the sign-in page says when a sign-in is refused, from the status and the server's answer.
import { ApiError, apiErrorText } from "../../api/client";
import { formatDuration } from "../../components/format";

export const USED_LINK =
  "This sign-in link was already used or has expired. Run `gapwatch login-link` for a new one.";
export const WRONG_PASSWORD = "Wrong name or password.";

/** Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); null if absent. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === "") return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(1, Math.ceil(seconds));
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(1, Math.ceil((at - now) / 1000));
}

/** A refused sign-in as a sentence; `via` says whether it was a password or a one-time link. */
export function signInErrorText(error: unknown, via: "password" | "link"): string {
  if (!(error instanceof ApiError)) return `Could not reach the server: ${apiErrorText(error)}`;
  if (error.status === 401) return via === "link" ? USED_LINK : WRONG_PASSWORD;
  if (error.status === 429) {
    const wait = retryAfterSeconds(error.headers.get("Retry-After"));
    return wait !== null
      ? `Too many failed sign-ins. Try again in ${formatDuration(wait)}.`
      : `Too many failed sign-ins. ${apiErrorText(error)}`;
  }
  return apiErrorText(error);
}
