import { useCallback, useEffect, useState } from "react";

/**
 * A callback ref to attach and the element's content width in CSS pixels (0 until measured).
 * A callback ref, not an object ref, because the element may mount after the component does
 * (a page that first shows "Loading…").
 */
export function useElementWidth<T extends HTMLElement>(): [(element: T | null) => void, number] {
  const [element, setElement] = useState<T | null>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    if (!element) return;
    setWidth(element.clientWidth);
    const observer = new ResizeObserver(() => setWidth(element.clientWidth));
    observer.observe(element);
    return () => observer.disconnect();
  }, [element]);
  const ref = useCallback((next: T | null) => setElement(next), []);
  return [ref, width];
}
