import { describe, expect, it } from "vitest";

import {
  describeUserAgent,
  keyScope,
  keyState,
  otherSessions,
  parseExpiryDays,
  passwordProblem,
} from "./settingsModel";

describe("API keys", () => {
  it("describe their scope", () => {
    expect(keyScope({ project: null, role: null })).toBe("all your projects · your role");
    expect(keyScope({ project: "lab-a", role: "viewer" })).toBe("lab-a · viewer");
  });

  it("are revoked, expired or active", () => {
    const now = Date.parse("2025-06-01T00:00:00Z");
    const key = { revoked_at: null, expires_at: null };
    expect(keyState(key, now)).toBe("active");
    expect(keyState({ ...key, expires_at: "2025-07-01T00:00:00Z" }, now)).toBe("active");
    expect(keyState({ ...key, expires_at: "2025-05-01T00:00:00Z" }, now)).toBe("expired");
    // Revoked wins over expired: it is what the user did.
    expect(
      keyState({ revoked_at: "2025-04-01T00:00:00Z", expires_at: "2025-05-01T00:00:00Z" }, now),
    ).toBe("revoked");
  });

  it("expire after whole days within the API's bounds, or never", () => {
    expect(parseExpiryDays("")).toEqual({ days: null });
    expect(parseExpiryDays(" 30 ")).toEqual({ days: 30 });
    expect(parseExpiryDays("0")).toHaveProperty("error");
    expect(parseExpiryDays("1.5")).toHaveProperty("error");
    expect(parseExpiryDays("3651")).toHaveProperty("error");
    expect(parseExpiryDays("3650")).toEqual({ days: 3650 });
  });
});

describe("passwordProblem", () => {
  it("wants eight characters, typed the same twice", () => {
    expect(passwordProblem("short", "short")).toMatch(/at least 8/);
    expect(passwordProblem("long enough", "long enougH")).toMatch(/differ/);
    expect(passwordProblem("long enough", "long enough")).toBeNull();
  });
});

describe("sessions", () => {
  it("name the browser and system", () => {
    const chrome =
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
    const firefox = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:121.0) Gecko/20100101 Firefox/121.0";
    const edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36 Edg/120.0";
    expect(describeUserAgent(chrome)).toBe("Chrome on Linux");
    expect(describeUserAgent(firefox)).toBe("Firefox on macOS");
    expect(describeUserAgent(edge)).toBe("Edge on Windows");
    expect(describeUserAgent("python-httpx/0.27")).toBe("python-httpx");
    expect(describeUserAgent(null)).toBe("unknown browser");
  });

  it("other than this one are the ones to sign out", () => {
    const base = { created_at: "", expires_at: "", user_agent: null, address: null };
    const sessions = [
      { ...base, id: 1, current: false },
      { ...base, id: 2, current: true },
      { ...base, id: 3, current: false },
    ];
    expect(otherSessions(sessions).map((s) => s.id)).toEqual([1, 3]);
  });
});
