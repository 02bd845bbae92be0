// @vitest-environment jsdom
import { cleanup, render } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { CodeText } from "./CodeText";
import { codeSpans } from "./codeSpans";

afterEach(cleanup);

describe("codeSpans", () => {
  it("cuts a text at its backtick pairs", () => {
    expect(codeSpans("set `every` to 1, or `None`")).toEqual([
      { code: false, text: "set " },
      { code: true, text: "every" },
      { code: false, text: " to 1, or " },
      { code: true, text: "None" },
    ]);
  });

  it("keeps an unpaired backtick and an empty pair as text", () => {
    expect(codeSpans("a `b")).toEqual([{ code: false, text: "a `b" }]);
    expect(codeSpans("x `` y")).toEqual([{ code: false, text: "x `` y" }]);
    expect(codeSpans("")).toEqual([]);
  });
});

describe("CodeText", () => {
  it("renders code spans as <code> and markup in the text as text, never as HTML", () => {
    const { container } = render(
      <p>
        <CodeText text={"Lower `training.batch_size` <img src=x onerror=alert(1)> `<b>`"} />
      </p>,
    );
    const codes = [...container.querySelectorAll("code")].map((c) => c.textContent);
    expect(codes).toEqual(["training.batch_size", "<b>"]);
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("b")).toBeNull();
    expect(container.textContent).toBe("Lower training.batch_size <img src=x onerror=alert(1)> <b>");
  });
});
