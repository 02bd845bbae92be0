import createClient from "openapi-fetch";
import { describe, expect, it } from "vitest";

import type { paths } from "../api/schema";
import { CSRF_HEADER, sessionMiddleware } from "./sessionMiddleware";

/** A client whose requests are answered in-process: `status` for every path. */
function clientAnswering(status: number, token: string | null) {
  const seen: Request[] = [];
  let unauthorized = 0;
  const client = createClient<paths>({
    baseUrl: "http://gapwatch.test",
    fetch: async (request: Request) => {
      seen.push(request);
      const body = status === 204 ? null : JSON.stringify({ detail: "x" });
      return new Response(body, { status, headers: { "Content-Type": "application/json" } });
    },
  });
  client.use(
    sessionMiddleware({ csrfToken: () => token, onUnauthorized: () => (unauthorized += 1) }),
  );
  return { client, seen, unauthorized: () => unauthorized };
}

describe("sessionMiddleware", () => {
  it("sends the CSRF token with mutating requests only", async () => {
    const { client, seen } = clientAnswering(204, "csrf-1");
    await client.POST("/api/v1/auth/sign-out");
    await client.DELETE("/api/v1/keys/{key_id}", { params: { path: { key_id: 3 } } });
    await client.PUT("/api/v1/auth/password", { body: { new_password: "long enough" } });
    await client.PATCH("/api/v1/users/{name}", { params: { path: { name: "ada" } }, body: {} });
    await client.GET("/api/v1/auth/me");
    expect(seen.map((r) => [r.method, r.headers.get(CSRF_HEADER)])).toEqual([
      ["POST", "csrf-1"],
      ["DELETE", "csrf-1"],
      ["PUT", "csrf-1"],
      ["PATCH", "csrf-1"],
      ["GET", null],
    ]);
  });

  it("sends no token while signed out", async () => {
    const { client, seen } = clientAnswering(200, null);
    await client.POST("/api/v1/auth/sign-in", { body: { name: "ada", password: "pw" } });
    expect(seen[0]!.headers.has(CSRF_HEADER)).toBe(false);
  });

  it("reports a 401 from any call but the sign-in's own", async () => {
    const { client, unauthorized } = clientAnswering(401, "csrf-1");
    await client.POST("/api/v1/auth/sign-in", { body: { name: "ada", password: "wrong" } });
    await client.POST("/api/v1/auth/link", { body: { token: "spent" } });
    expect(unauthorized()).toBe(0);
    await client.GET("/api/v1/runs");
    await client.POST("/api/v1/runs/{run_id}/cancel", { params: { path: { run_id: 1 } } });
    expect(unauthorized()).toBe(2);
  });

  it("does not take a 403 for a sign-out", async () => {
    const { client, unauthorized } = clientAnswering(403, "csrf-1");
    await client.POST("/api/v1/runs/{run_id}/cancel", { params: { path: { run_id: 1 } } });
    expect(unauthorized()).toBe(0);
  });
});
