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
  withConfig,
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
      kind: null,
      config: [],
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
      kind: null,
      config: [],
      sort: "-min_acc",
      offset: 50,
    });
    expect(searchFromView(view).toString()).toBe(search);
  });

  it("round-trips the kind and the config search, which is the API's own parameters", () => {
    const search = "kind=loop&config.lr=0.01&config.optimizer.name=adam&sort=acc";
    const view = viewFromSearch(new URLSearchParams(search));
    expect(view).toMatchObject({
      kind: "loop",
      config: [
        { key: "lr", value: "0.01" },
        { key: "optimizer.name", value: "adam" },
      ],
    });
    expect(searchFromView(view).toString()).toBe(search);
    expect(listQuery(view)).toEqual({
      kind: "loop",
      "config.lr": "0.01",
      "config.optimizer.name": "adam",
      sort: "acc",
      limit: PAGE_SIZE,
      offset: 0,
    });
    expect(isFiltered(viewFromSearch(new URLSearchParams("config.norm=true")))).toBe(true);
    expect(isFiltered(viewFromSearch(new URLSearchParams("kind=engine")))).toBe(true);
  });

  it("reads the crashed status; drops an unknown kind and config keys the API refuses", () => {
    expect(viewFromSearch(new URLSearchParams("status=crashed")).status).toBe("crashed");
    const view = viewFromSearch(new URLSearchParams("kind=other&config.=1&config.a%20b=2&config.ok="));
    expect(view).toEqual(plain);
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
    expect(withFilter(paged, "kind", "loop")).toMatchObject({ kind: "loop", offset: 0 });
    expect(withFilter(plain, "kind", "")).toMatchObject({ kind: null });
    const searched = withConfig(paged, [{ key: "lr", value: "0.01" }]);
    expect(searched).toMatchObject({ config: [{ key: "lr", value: "0.01" }], offset: 0 });
    expect(isFiltered(searched)).toBe(true);
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
