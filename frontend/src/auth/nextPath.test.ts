import { describe, expect, it } from "vitest";

import { DEFAULT_NEXT, safeNext, signInHref } from "./nextPath";

describe("safeNext", () => {
  it("follows a path on this site with its search and hash", () => {
    expect(safeNext("/runs/7")).toBe("/runs/7");
    expect(safeNext("/runs?status=failed&tag=a%20b")).toBe("/runs?status=failed&tag=a%20b");
    expect(safeNext("/compare?runs=1,2#charts")).toBe("/compare?runs=1,2#charts");
  });

  it("never leaves the site", () => {
    for (const raw of [
      "https://evil.example/runs",
      "//evil.example/runs",
      "/\\evil.example",
      "\\\\evil.example",
      "/\t/evil.example",
      "/\n/evil.example",
      "javascript:alert(1)",
      "runs",
      "",
      null,
      undefined,
    ]) {
      expect(safeNext(raw), String(raw)).toBe(DEFAULT_NEXT);
    }
  });

  it("does not send the user back to the sign-in page", () => {
    expect(safeNext("/sign-in?next=/runs")).toBe(DEFAULT_NEXT);
  });
});

describe("signInHref", () => {
  it("comes back to where the user was, search included", () => {
    const href = signInHref({ pathname: "/runs", search: "?status=running" });
    expect(href).toBe("/sign-in?next=%2Fruns%3Fstatus%3Drunning");
    const next = new URLSearchParams(href.split("?")[1]).get("next");
    expect(safeNext(next)).toBe("/runs?status=running");
  });

  it("does not nest the sign-in page in itself", () => {
    expect(signInHref({ pathname: "/sign-in", search: "?next=%2Fsettings" })).toBe("/sign-in");
  });
});
