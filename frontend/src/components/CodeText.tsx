import { Fragment } from "react";

import { codeSpans } from "./codeSpans";

/** `text` with its `code` spans as <code> elements (see codeSpans; no HTML is parsed). */
export function CodeText({ text }: { readonly text: string | null | undefined }) {
  if (!text) return null;
  return (
    <>
      {codeSpans(text).map((piece, i) =>
        piece.code ? <code key={i}>{piece.text}</code> : <Fragment key={i}>{piece.text}</Fragment>,
      )}
    </>
  );
}
