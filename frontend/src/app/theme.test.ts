// @vitest-environment jsdom
import { act, renderHook } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { themeColor, useTheme } from "./theme";

describe("useTheme", () => {
  it("applies the theme to <html> before its users re-render, and remembers it", () => {
    const { result } = renderHook(() => {
      const [theme, setTheme] = useTheme();
      // What a chart's effect would read while rendering with this theme.
      return { theme, setTheme, attribute: document.documentElement.dataset.theme };
    });
    act(() => result.current.setTheme("dark"));
    expect(result.current.theme).toBe("dark");
    expect(result.current.attribute).toBe("dark");
    expect(window.localStorage.getItem("gapwatch.theme")).toBe("dark");
    act(() => result.current.setTheme("light"));
    expect(result.current.theme).toBe("light");
    expect(document.documentElement.dataset.theme).toBe("light");
  });

  it("reads a CSS variable of the active theme", () => {
    document.documentElement.style.setProperty("--series-0", " #123456 ");
    expect(themeColor("--series-0")).toBe("#123456");
    document.documentElement.style.removeProperty("--series-0");
  });
});
