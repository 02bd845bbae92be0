// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { RunsFilters } from "./RunsFilters";
import { type RunsView, searchFromView, viewFromSearch } from "./runsQuery";

afterEach(cleanup);
beforeEach(() => {
  vi.useFakeTimers();
  return () => vi.useRealTimers();
});

/** The page's round trip: a view change goes through the URL and comes back as a new view. */
function Page({ seen }: { seen: (view: RunsView) => void }) {
  const [search, setSearch] = useState("");
  const view = viewFromSearch(new URLSearchParams(search));
  seen(view);
  return (
    <RunsFilters
      view={view}
      projects={[]}
      benchmarks={[]}
      strategies={[]}
      onChange={(next) => setSearch(searchFromView(next).toString())}
    />
  );
}

describe("RunsFilters tag input", () => {
  it("keeps a typed trailing space after the trimmed tag reaches the URL", () => {
    const views: RunsView[] = [];
    render(<Page seen={(v) => views.push(v)} />);
    const input = screen.getByTestId("filter-tag") as HTMLInputElement;
    fireEvent.change(input, { target: { value: "demo " } });
    act(() => vi.advanceTimersByTime(400));
    expect(views.at(-1)!.tag).toBe("demo");
    expect(input.value).toBe("demo ");
    // The user goes on typing a second word after the space.
    fireEvent.change(input, { target: { value: "demo x" } });
    act(() => vi.advanceTimersByTime(400));
    expect(views.at(-1)!.tag).toBe("demo x");
    expect(input.value).toBe("demo x");
  });

  it("still follows the URL when it changes under the input", () => {
    function Controlled({ tag }: { tag: string | null }) {
      const view = { ...viewFromSearch(new URLSearchParams()), tag };
      return <RunsFilters view={view} projects={[]} benchmarks={[]} strategies={[]} onChange={() => {}} />;
    }
    const { rerender } = render(<Controlled tag="demo" />);
    const input = screen.getByTestId("filter-tag") as HTMLInputElement;
    expect(input.value).toBe("demo");
    rerender(<Controlled tag="other" />);
    expect(input.value).toBe("other");
    rerender(<Controlled tag={null} />);
    expect(input.value).toBe("");
  });
});

describe("RunsFilters project select", () => {
  it("offers the user's projects and puts the choice in the URL", () => {
    const views: RunsView[] = [];
    function WithProjects() {
      const [search, setSearch] = useState("offset=50");
      const view = viewFromSearch(new URLSearchParams(search));
      views.push(view);
      return (
        <RunsFilters
          view={view}
          projects={["default", "lab-a"]}
          benchmarks={[]}
          strategies={[]}
          onChange={(next) => setSearch(searchFromView(next).toString())}
        />
      );
    }
    render(<WithProjects />);
    const select = screen.getByTestId("filter-project") as HTMLSelectElement;
    expect([...select.options].map((o) => o.value)).toEqual(["", "default", "lab-a"]);
    fireEvent.change(select, { target: { value: "lab-a" } });
    expect(views.at(-1)).toMatchObject({ project: "lab-a", offset: 0 });
    expect(select.value).toBe("lab-a");
    fireEvent.change(select, { target: { value: "" } });
    expect(views.at(-1)!.project).toBeNull();
  });
});

describe("RunsFilters kind select", () => {
  it("filters all / engine / own-loop runs through the URL", () => {
    const views: RunsView[] = [];
    render(<Page seen={(v) => views.push(v)} />);
    const select = screen.getByTestId("filter-kind") as HTMLSelectElement;
    expect([...select.options].map((o) => [o.value, o.textContent])).toEqual([
      ["", "all"],
      ["engine", "engine"],
      ["loop", "own loop"],
    ]);
    fireEvent.change(select, { target: { value: "loop" } });
    expect(views.at(-1)!.kind).toBe("loop");
    expect(searchFromView(views.at(-1)!).toString()).toBe("kind=loop");
  });
});

describe("RunsFilters config search", () => {
  it("puts typed key=value entries in the URL as config.<key> parameters", () => {
    const views: RunsView[] = [];
    render(<Page seen={(v) => views.push(v)} />);
    const input = screen.getByTestId("filter-config") as HTMLInputElement;
    fireEvent.change(input, { target: { value: "lr=0.01, optimizer.name=adam" } });
    act(() => vi.advanceTimersByTime(600));
    expect(searchFromView(views.at(-1)!).toString()).toBe("config.lr=0.01&config.optimizer.name=adam");
    // What was typed stays as typed (its comma) once the URL says the same.
    expect(input.value).toBe("lr=0.01, optimizer.name=adam");
    expect(screen.queryByTestId("filter-config-error")).toBeNull();
  });

  it("names a malformed entry under the box and keeps the last search", () => {
    const views: RunsView[] = [];
    render(<Page seen={(v) => views.push(v)} />);
    const input = screen.getByTestId("filter-config") as HTMLInputElement;
    fireEvent.change(input, { target: { value: "lr=0.01" } });
    act(() => vi.advanceTimersByTime(600));
    fireEvent.change(input, { target: { value: "lr=0.01 adam" } });
    act(() => vi.advanceTimersByTime(600));
    expect(screen.getByTestId("filter-config-error").textContent).toBe(
      "Not searched: “adam”: write key=value, e.g. lr=0.01",
    );
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(views.at(-1)!.config).toEqual([{ key: "lr", value: "0.01" }]);
    // Typing again clears the complaint; Enter applies at once.
    fireEvent.change(input, { target: { value: "lr=0.01 opt=adam" } });
    expect(screen.queryByTestId("filter-config-error")).toBeNull();
    fireEvent.keyDown(input, { key: "Enter" });
    expect(views.at(-1)!.config).toEqual([
      { key: "lr", value: "0.01" },
      { key: "opt", value: "adam" },
    ]);
  });

  it("follows the URL and shows what the server refused", () => {
    function Controlled({ search, problem }: { search: string; problem: string | null }) {
      const view = viewFromSearch(new URLSearchParams(search));
      return (
        <RunsFilters
          view={view}
          projects={[]}
          benchmarks={[]}
          strategies={[]}
          configProblem={problem}
          onChange={() => {}}
        />
      );
    }
    const { rerender } = render(<Controlled search="config.lr=0.01&config.note=a%20b" problem={null} />);
    const input = screen.getByTestId("filter-config") as HTMLInputElement;
    expect(input.value).toBe('lr=0.01 note="a b"');
    rerender(<Controlled search="config.x=1" problem="config.x: at most 8 config filters" />);
    expect(input.value).toBe("x=1");
    expect(screen.getByTestId("filter-config-error").textContent).toBe(
      "The server refused the config search: config.x: at most 8 config filters",
    );
  });
});
