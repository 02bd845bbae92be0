import { useState } from "react";

/** Copies `text` to the clipboard; where the browser refuses, says to copy it by hand (the
 * text it belongs to selects itself on a click: see `.copyable`). */
export function CopyButton({ text, testId }: { readonly text: string; readonly testId: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState("copied");
    } catch {
      setState("failed");
    }
  };
  return (
    <>
      <button type="button" data-testid={testId} onClick={() => void copy()}>
        {state === "copied" ? "Copied" : "Copy"}
      </button>
      {state === "failed" && (
        <span className="muted small">The browser would not copy: select the text and copy it.</span>
      )}
    </>
  );
}
