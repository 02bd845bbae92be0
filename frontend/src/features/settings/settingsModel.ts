// Pure helpers of the settings page: what a key may do, whether it still works, which browser a
// session is, and the checks a form makes before asking the server.
import type { Schemas } from "../../api/client";
import { MISSING } from "../../components/format";

export type KeyRead = Schemas["KeyRead"];
export type SessionRead = Schemas["SessionRead"];

/** Longest lifetime the API accepts for a key (KeyCreate.expires_in_days). */
export const MAX_KEY_DAYS = 3650;
/** Shortest password the API accepts (PasswordChange.new_password). */
export const MIN_PASSWORD_CHARS = 8;

/** "lab-a · viewer": where a key acts and the most it may do there. */
export function keyScope(key: Pick<KeyRead, "project" | "role">): string {
  const where = key.project ?? "all your projects";
  const what = key.role ?? "your role";
  return `${where} · ${what}`;
}

export type KeyState = "active" | "expired" | "revoked";

export function keyState(key: Pick<KeyRead, "revoked_at" | "expires_at">, now: number): KeyState {
  if (key.revoked_at) return "revoked";
  if (key.expires_at && Date.parse(key.expires_at) <= now) return "expired";
  return "active";
}

/** A key's expiry typed as days: empty is "never" (null); else a whole number in range. */
export function parseExpiryDays(text: string): { days: number | null } | { error: string } {
  const trimmed = text.trim();
  if (trimmed === "") return { days: null };
  const days = Number(trimmed);
  if (!Number.isInteger(days) || days < 1 || days > MAX_KEY_DAYS) {
    return { error: `Enter whole days from 1 to ${MAX_KEY_DAYS}, or leave empty for no expiry` };
  }
  return { days };
}

/** Why a new password cannot be sent yet, or null. */
export function passwordProblem(password: string, repeated: string): string | null {
  if (password.length < MIN_PASSWORD_CHARS) {
    return `Use at least ${MIN_PASSWORD_CHARS} characters`;
  }
  if (password !== repeated) return "The two new passwords differ";
  return null;
}

/** "Firefox on Linux", "Chrome on macOS": enough to recognise one's own browsers. */
export function describeUserAgent(agent: string | null): string {
  if (!agent) return "unknown browser";
  const browser =
    [
      ["Edg/", "Edge"],
      ["OPR/", "Opera"],
      ["Firefox/", "Firefox"],
      ["Chrome/", "Chrome"],
      ["Chromium/", "Chromium"],
      ["Safari/", "Safari"],
    ].find(([token]) => agent.includes(token!))?.[1] ??
    (agent.split(/[ /]/)[0] || "unknown browser");
  const system =
    [
      ["Android", "Android"],
      ["iPhone", "iOS"],
      ["iPad", "iPadOS"],
      ["Windows", "Windows"],
      ["Mac OS X", "macOS"],
      ["CrOS", "ChromeOS"],
      ["Linux", "Linux"],
    ].find(([token]) => agent.includes(token!))?.[1] ?? null;
  return system ? `${browser} on ${system}` : browser;
}

/** A calendar time in the user's locale, without seconds: "4 Mar 2026, 14:05". */
export function formatDateTime(iso: string | null): string {
  if (!iso) return MISSING;
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return MISSING;
  return new Date(at).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** The sessions other than this one, which "Sign out other sessions" ends. */
export function otherSessions(sessions: readonly SessionRead[]): SessionRead[] {
  return sessions.filter((s) => !s.current);
}
