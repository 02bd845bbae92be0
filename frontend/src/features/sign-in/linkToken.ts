/** The one-time token of a sign-in link's fragment (`#token=...`), or null without one. */
export function linkToken(hash: string): string | null {
  return new URLSearchParams(hash.replace(/^#/, "")).get("token") || null;
}
