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
