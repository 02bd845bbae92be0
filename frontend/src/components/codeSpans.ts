// Help texts (spec field descriptions, metric definitions, hints) mark names and commands with
// backticks, as the backend's docstrings do: `training.batch_size`. These are the pieces to show,
// each text or code, for React to render as text nodes and <code> elements: nothing is parsed as
// HTML, so a description can never inject markup.

export interface TextPiece {
  readonly code: boolean;
  readonly text: string;
}

/**
 * `text` cut at its backtick pairs: "set `every` to 1" → text "set ", code "every", text " to 1".
 * A backtick without a partner stays as it is; empty pieces are left out.
 */
export function codeSpans(text: string): TextPiece[] {
  const pieces: TextPiece[] = [];
  const push = (piece: TextPiece) => {
    if (piece.text === "") return;
    const last = pieces.at(-1);
    // Plain text next to plain text (an unpaired backtick) is one piece.
    if (last && !last.code && !piece.code) pieces[pieces.length - 1] = { code: false, text: last.text + piece.text };
    else pieces.push(piece);
  };
  let rest = text;
  for (;;) {
    const open = rest.indexOf("`");
    const close = open === -1 ? -1 : rest.indexOf("`", open + 1);
    if (close === -1) {
      push({ code: false, text: rest });
      return pieces;
    }
    push({ code: false, text: rest.slice(0, open) });
    const code = rest.slice(open + 1, close);
    // "``" is no code span: keep both backticks as text.
    push(code === "" ? { code: false, text: "``" } : { code: true, text: code });
    rest = rest.slice(close + 1);
  }
}
