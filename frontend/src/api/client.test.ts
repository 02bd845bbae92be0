import { describe, expect, it } from "vitest";

import { ApiError, apiErrorText, unwrap } from "./client";

describe("apiErrorText", () => {
  it("gives the server's sentence, or a 422's fields and messages", () => {
    expect(apiErrorText(new ApiError(403, { detail: "this needs the editor role" }))).toBe(
      "this needs the editor role",
    );
    const invalid = new ApiError(422, {
      detail: [
        { loc: ["body", "new_password"], msg: "String should have at least 8 characters", type: "x" },
        { loc: ["body"], msg: "Value error, nothing to change", type: "y" },
      ],
    });
    expect(apiErrorText(invalid)).toBe(
      "new_password: String should have at least 8 characters\nnothing to change",
    );
    expect(apiErrorText(new ApiError(500, "oops"))).toBe('API answered 500: "oops"');
    expect(apiErrorText(new TypeError("Failed to fetch"))).toBe("Failed to fetch");
  });
});

describe("unwrap", () => {
  it("gives the data of a 2xx, else an ApiError with the status, body and headers", () => {
    expect(unwrap({ data: { id: 3 }, response: new Response(null, { status: 200 }) })).toEqual({ id: 3 });
    const response = new Response(null, { status: 429, headers: { "Retry-After": "30" } });
    let thrown: unknown;
    try {
      unwrap({ error: { detail: "slow down" }, response });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    expect(thrown).toMatchObject({ status: 429, body: { detail: "slow down" } });
    expect((thrown as ApiError).headers.get("Retry-After")).toBe("30");
  });
});
