import { describe, expect, it } from "vitest";

import {
  DEFAULT_SORT,
  PAGE_SIZE,
  emptyPage,
  isFiltered,
  listQuery,
  pageInfo,
  searchFromView,
  sortDirection,
  toggleSort,
  viewFromSearch,
  withFilter,
} from "./runsQuery";

const plain = viewFromSearch(new URLSearchParams());

describe("the runs view in the URL", () => {
  it("defaults to every run, newest first, first page", () => {
    expect(plain).toEqual({
      project: null,
      status: null,
      benchmark: null,
      strategy: null,
      tag: null,
      sort: DEFAULT_SORT,
      offset: 0,
    });
    expect(searchFromView(plain).toString()).toBe("");
  });

  it("round-trips filters, sort and offset", () => {
    const search =
      "project=lab-a&status=running&benchmark=split_digits&strategy=er&tag=demo&sort=-min_acc&offset=50";
    const view = viewFromSearch(new URLSearchParams(search));
    expect(view).toEqual({
      project: "lab-a",
      status: "running",
      benchmark: "split_digits",
      strategy: "er",
      tag: "demo",
      sort: "-min_acc",
      offset: 50,
    });
    expect(searchFromView(view).toString()).toBe(search);
  });

  it("ignores values the API would refuse", () => {
    const view = viewFromSearch(new URLSearchParams("status=done&sort=name&offset=-5&tag=%20&project=Lab%20A"));
    expect(view).toEqual(plain);
  });

  it("builds the API query with the page size", () => {
    const view = viewFromSearch(new URLSearchParams("strategy=er&sort=acc&offset=100"));
    expect(listQuery(view)).toEqual({ strategy: "er", sort: "acc", limit: PAGE_SIZE, offset: 100 });
    const inProject = viewFromSearch(new URLSearchParams("project=lab-a"));
    expect(listQuery(inProject)).toMatchObject({ project: "lab-a" });
  });
});

describe("filters", () => {
  it("a filter change goes back to the first page; clearing removes it", () => {
    const paged = { ...plain, offset: 100 };
    const filtered = withFilter(paged, "tag", " demo ");
    expect(filtered).toMatchObject({ tag: "demo", offset: 0 });
    expect(isFiltered(filtered)).toBe(true);
    expect(isFiltered(withFilter(filtered, "tag", ""))).toBe(false);
    expect(withFilter(plain, "status", "failed").status).toBe("failed");
    const inProject = withFilter(paged, "project", "lab-a");
    expect(inProject).toMatchObject({ project: "lab-a", offset: 0 });
    expect(isFiltered(inProject)).toBe(true);
    expect(withFilter(plain, "status", "nonsense").status).toBeNull();
  });
});

describe("sorting by column header", () => {
  it("starts a new column descending, then flips", () => {
    const first = toggleSort({ ...plain, offset: 50 }, "acc");
    expect(first).toMatchObject({ sort: "-acc", offset: 0 });
    expect(sortDirection(first.sort, "acc")).toBe("desc");
    const second = toggleSort(first, "acc");
    expect(second.sort).toBe("acc");
    expect(sortDirection(second.sort, "acc")).toBe("asc");
    expect(toggleSort(second, "acc").sort).toBe("-acc");
    expect(sortDirection(second.sort, "min_acc")).toBeNull();
  });
});

describe("pageInfo", () => {
  it("labels the range and offers the neighbouring pages", () => {
    expect(pageInfo(0, 50, 123)).toEqual({ label: "1–50 of 123", previous: null, next: 50 });
    expect(pageInfo(100, 23, 123)).toEqual({ label: "101–123 of 123", previous: 50, next: null });
    expect(pageInfo(0, 0, 0)).toEqual({ label: "0 runs", previous: null, next: null });
  });
});

describe("emptyPage", () => {
  it("tells an offset past the end from a filter that matches nothing", () => {
    // /runs?offset=100 with 6 runs: the runs exist, this page is past them.
    expect(emptyPage(0, 6)).toBe("past-end");
    expect(emptyPage(0, 50)).toBe("past-end");
    expect(emptyPage(0, 0)).toBe("no-match");
    expect(emptyPage(6, 6)).toBeNull();
    expect(emptyPage(1, 51)).toBeNull();
  });
});
