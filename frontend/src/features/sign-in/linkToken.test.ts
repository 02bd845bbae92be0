import { describe, expect, it } from "vitest";

import { linkToken } from "./linkToken";

describe("linkToken", () => {
  it("reads the token from the fragment only", () => {
    expect(linkToken("#token=abc_DEF-1")).toBe("abc_DEF-1");
    expect(linkToken("token=abc")).toBe("abc");
    expect(linkToken("#other=1&token=xyz")).toBe("xyz");
    expect(linkToken("")).toBeNull();
    expect(linkToken("#token=")).toBeNull();
    expect(linkToken("#next=/runs")).toBeNull();
  });
});
