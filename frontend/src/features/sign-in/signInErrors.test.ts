import { describe, expect, it } from "vitest";

import { ApiError } from "../../api/client";
import { USED_LINK, WRONG_PASSWORD, retryAfterSeconds, signInErrorText } from "./signInErrors";

describe("retryAfterSeconds", () => {
  it("reads delta-seconds, rounding up, and HTTP dates", () => {
    expect(retryAfterSeconds("42")).toBe(42);
    expect(retryAfterSeconds("12.2")).toBe(13);
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(retryAfterSeconds("Wed, 01 Jan 2025 00:01:30 GMT", now)).toBe(90);
    expect(retryAfterSeconds(null)).toBeNull();
    expect(retryAfterSeconds("soon")).toBeNull();
  });
});

describe("signInErrorText", () => {
  it("tells a wrong password from a spent link", () => {
    const refused = new ApiError(401, { detail: "wrong name or password" });
    expect(signInErrorText(refused, "password")).toBe(WRONG_PASSWORD);
    expect(signInErrorText(refused, "link")).toBe(USED_LINK);
  });

  it("says how long to wait after too many failures, from the answer's Retry-After", () => {
    const detail = { detail: "too many failed sign-ins; try again in 31 s" };
    const throttled = new ApiError(429, detail, new Headers({ "Retry-After": "95" }));
    expect(signInErrorText(throttled, "password")).toBe("Too many failed sign-ins. Try again in 1m 35s.");
    expect(signInErrorText(new ApiError(429, detail), "password")).toBe(
      "Too many failed sign-ins. too many failed sign-ins; try again in 31 s",
    );
  });

  it("passes other refusals on in the server's words", () => {
    const disabled = new ApiError(409, { detail: "user 'ada' is disabled" });
    expect(signInErrorText(disabled, "password")).toBe("user 'ada' is disabled");
    expect(signInErrorText(new TypeError("Failed to fetch"), "link")).toBe(
      "Could not reach the server: Failed to fetch",
    );
  });
});
