// @vitest-environment jsdom
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, cleanup, render, screen } from "@testing-library/react";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import { afterEach, describe, expect, it } from "vitest";

import { api } from "../api/client";
import type { Me } from "./roles";
import { installSession, meQuery, RequireSession, SessionGate, useMe } from "./session";
import { CSRF_HEADER } from "./sessionMiddleware";

afterEach(cleanup);

const ada: Me = {
  user: { name: "ada", is_admin: false, has_password: true, disabled: false, created_at: "2025-01-01T00:00:00Z" },
  via: "session",
  csrf_token: "csrf",
  projects: [{ name: "default", role: "editor" }],
  key: null,
};

function Where() {
  const location = useLocation();
  return <p data-testid="where">{location.pathname + location.search}</p>;
}

function Runs() {
  return <p data-testid="runs-page">runs of {useMe().user.name}</p>;
}

function renderAt(path: string, me: Me | null) {
  const client = new QueryClient();
  client.setQueryData(meQuery.queryKey, me); // what GET /auth/me answered
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[path]}>
        <SessionGate>
          <Routes>
            <Route path="/sign-in" element={<Where />} />
            <Route element={<RequireSession />}>
              <Route path="/runs" element={<Runs />} />
            </Route>
          </Routes>
        </SessionGate>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return client;
}

describe("RequireSession", () => {
  it("sends a signed-out visitor to sign in, coming back to the same page", () => {
    renderAt("/runs?status=failed", null);
    expect(screen.getByTestId("where").textContent).toBe("/sign-in?next=%2Fruns%3Fstatus%3Dfailed");
    expect(screen.queryByTestId("runs-page")).toBeNull();
  });

  it("shows the page to a signed-in user, with their name", () => {
    renderAt("/runs", ada);
    expect(screen.getByTestId("runs-page").textContent).toBe("runs of ada");
  });

  it("leaves the page for sign-in once the session is gone (a 401 from any call)", async () => {
    const client = renderAt("/runs", ada);
    const uninstall = installSession(client);
    try {
      expect(screen.getByTestId("runs-page")).toBeTruthy();
      // The app's own client, answered in-process (an absolute base: Node's Request does not
      // resolve the page-relative one a browser does).
      const seen: Request[] = [];
      const baseUrl = "http://gapwatch.test";
      const answer = (status: number) => async (request: Request) => {
        seen.push(request);
        return new Response(JSON.stringify({ detail: "x" }), {
          status,
          headers: { "Content-Type": "application/json" },
        });
      };
      // A refused write (403) is no sign-out; it carried the cached session's CSRF token.
      await act(() =>
        api.POST("/api/v1/runs/{run_id}/cancel", {
          params: { path: { run_id: 1 } },
          baseUrl,
          fetch: answer(403),
        }),
      );
      expect(seen[0]!.headers.get(CSRF_HEADER)).toBe("csrf");
      expect(screen.getByTestId("runs-page")).toBeTruthy();
      // The session has ended on the server: any call's 401 signs the dashboard out.
      await act(() => api.GET("/api/v1/runs", { baseUrl, fetch: answer(401) }));
      expect((await screen.findByTestId("where")).textContent).toBe("/sign-in?next=%2Fruns");
      expect(client.getQueryData(meQuery.queryKey)).toBeNull();
    } finally {
      uninstall();
    }
  });
});
