// @vitest-environment jsdom
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { RunRead } from "../../api/client";
import type { Me } from "../../auth/roles";
import { meQuery, RequireSession } from "../../auth/session";
import { useRun } from "./queries";
import { isRetryable, RunHeader } from "./RunHeader";

// The app's one client captures Request and fetch when it is made: before the imports, the page's
// base for relative URLs (Node's Request has none) and an in-process server that the tests answer.
const server = vi.hoisted(() => {
  const PlainRequest = globalThis.Request;
  class PageRequest extends PlainRequest {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === "string" ? new URL(input, "http://gapwatch.test") : input, init);
    }
  }
  globalThis.Request = PageRequest as typeof Request;
  const state = {
    seen: [] as Request[],
    answer: (_request: Request): Response => new Response(null, { status: 500 }),
  };
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    state.seen.push(request);
    return state.answer(request);
  };
  return state;
});

afterEach(() => {
  cleanup();
  server.seen.length = 0;
});

function me(role: "editor" | "viewer"): Me {
  return {
    user: { name: "ada", is_admin: false, has_password: true, disabled: false, created_at: "2025-01-01T00:00:00Z" },
    via: "session",
    csrf_token: "csrf",
    projects: [{ name: "default", role }],
    key: null,
  };
}

function engineRun(overrides: Partial<RunRead> = {}): RunRead {
  return {
    id: 21,
    kind: "engine",
    project: "default",
    name: "er-digits",
    group: null,
    tags: [],
    status: "failed",
    error: "failed after 3 attempts: the worker stopped (out of memory?) each time",
    spec: {
      benchmark: { name: "split_digits" },
      model: { name: "mlp" },
      strategy: { name: "er" },
    } as RunRead["spec"],
    config: null,
    created_at: "2025-01-01T00:00:00Z",
    started_at: "2025-01-01T00:00:00Z",
    finished_at: "2025-01-01T00:05:00Z",
    heartbeat_at: "2025-01-01T00:04:00Z",
    progress: { step: 300, total: 1000, fraction: 0.3 },
    iterations_per_s: null,
    worker: "gpu-box:12",
    attempts: 3,
    duration_s: 300,
    headline: null,
    ...overrides,
  } as RunRead;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

/** The header of the run as the page's query holds it (a retry's answer replaces it). */
function Header() {
  const run = useRun(21).data;
  return run ? <RunHeader run={run} live="off" onExportPng={null} /> : null;
}

function renderHeader(run: RunRead, role: "editor" | "viewer" = "editor") {
  const client = new QueryClient({ defaultOptions: { queries: { staleTime: Infinity } } });
  client.setQueryData(meQuery.queryKey, me(role));
  client.setQueryData(["run", 21, "run"], run);
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={["/runs/21"]}>
        <Routes>
          <Route element={<RequireSession />}>
            <Route path="/runs/:id" element={<Header />} />
          </Route>
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return client;
}

describe("Retry on a run's page", () => {
  it("queues a failed engine run again and shows it queued", async () => {
    const queued = engineRun({ status: "queued", error: null, attempts: 0, finished_at: null });
    server.answer = () => json(queued);
    const client = renderHeader(engineRun());
    const retry = screen.getByTestId("retry-run");
    expect(retry.textContent).toBe("Retry");
    expect(screen.queryByTestId("cancel-run")).toBeNull();

    await act(async () => fireEvent.click(retry));

    expect(server.seen.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual([
      "POST /api/v1/runs/21/retry",
    ]);
    expect(client.getQueryData<RunRead>(["run", 21, "run"])?.status).toBe("queued");
    expect((await screen.findByTestId("run-status")).getAttribute("data-status")).toBe("queued");
    // Queued again: no second retry, and it can be cancelled like any queued run.
    expect(screen.queryByTestId("retry-run")).toBeNull();
    expect(screen.getByTestId("cancel-run")).toBeTruthy();
    expect(screen.queryByTestId("run-error")).toBeNull();
  });

  it("says why when the server refuses", async () => {
    server.answer = () => json({ detail: "run 21 is running; only a failed or cancelled run is retried" }, 409);
    renderHeader(engineRun({ status: "cancelled", error: null }));
    await act(async () => fireEvent.click(screen.getByTestId("retry-run")));
    expect((await screen.findByTestId("retry-error")).textContent).toBe(
      "Could not retry: API answered 409: run 21 is running; only a failed or cancelled run is retried",
    );
  });

  it("is offered to editors only", () => {
    renderHeader(engineRun(), "viewer");
    expect(screen.queryByTestId("retry-run")).toBeNull();
    expect(server.seen).toEqual([]);
  });

  it("is offered for failed and cancelled engine runs only", () => {
    const statuses = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
    expect(statuses.filter((status) => isRetryable(engineRun({ status })))).toEqual([
      "failed",
      "cancelled",
    ]);
    // A loop run is resumed by its own code (gapwatch.init(resume=ID)), not by a worker.
    expect(isRetryable(engineRun({ kind: "loop", spec: null, status: "failed" }))).toBe(false);
    expect(isRetryable(engineRun({ kind: "loop", spec: null, status: "crashed" }))).toBe(false);
  });
});
