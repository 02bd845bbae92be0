// A failed or crashed run's error, for people: its first line in words, the whole text (the
// traceback) kept for a disclosure, and what to do where the cause is a known one.
//
// The worker writes "<ExceptionType>: <message>", a blank line, then the end of the traceback
// (gapwatch.client.describe_error); a user's own loop may send any text, a bare traceback too.
import type { RunRead } from "../../api/client";

export interface ErrorHint {
  /** What to do, in words. */
  readonly text: string;
  /** A command to run, shown as code (and copyable), or null. */
  readonly command: string | null;
}

export interface RunErrorView {
  /** "The run failed" / "The run crashed". */
  readonly title: string;
  /** The error's first line in words: "Dataset unavailable: dataset mnist not in cache …". */
  readonly summary: string;
  /** The whole error text when it says more than its first line (a traceback), else null. */
  readonly details: string | null;
  readonly hint: ErrorHint | null;
}

const TRACEBACK_HEAD = /^Traceback \(most recent call last\):/;
// "gapwatch_worker.cl.datasets.store.DatasetUnavailable: message" → type and message.
const EXCEPTION_LINE = /^((?:[A-Za-z_][\w]*\.)*)([A-Z][\w]*(?:Error|Exception|Exit|Interrupt|Unavailable|Mismatch|Diverged|Warning)?)(?::\s*(.*))?$/;

/**
 * An exception class name in words: "DatasetUnavailable" → "Dataset unavailable",
 * "FileNotFoundError" → "File not found", "ValueError" → "Value error", "HTTPError" → "HTTP error".
 */
export function exceptionInWords(name: string): string {
  const words = name.match(/[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+/g) ?? [name];
  // "Error" says nothing once the name says what went wrong ("File not found").
  const kept = words.length > 2 && words.at(-1) === "Error" ? words.slice(0, -1) : words;
  return kept
    .map((word, i) => (word.length > 1 && word === word.toUpperCase() ? word : i === 0 ? word : word.toLowerCase()))
    .join(" ");
}

/** The line that says what went wrong: the first, or a bare traceback's last. */
function headLine(lines: readonly string[]): string {
  const nonEmpty = lines.map((l) => l.trim()).filter(Boolean);
  if (nonEmpty.length === 0) return "";
  return TRACEBACK_HEAD.test(nonEmpty[0]!) ? nonEmpty.at(-1)! : nonEmpty[0]!;
}

/** "ValueError: bad" → "Value error: bad"; a line that is not an exception stays as it is. */
export function lineInWords(line: string): string {
  const match = EXCEPTION_LINE.exec(line);
  // A lone capitalised word ("Crashed") is a sentence, not an exception type.
  if (!match || (match[3] === undefined && !/Error|Exception/.test(match[2]!))) return line;
  const words = exceptionInWords(match[2]!);
  return match[3] ? `${words}: ${match[3]}` : words;
}

const NOT_A_NAME = new Set([
  "file",
  "files",
  "not",
  "is",
  "was",
  "in",
  "the",
  "a",
  "cache",
  "folder",
  // "dataset import failed …", which the "datasets import NAME" command pattern does not match.
  "import",
]);

/**
 * Whether the error says a dataset's files are missing, and the dataset it names ("dataset
 * mnist …", "datasets/mnist/…"; null when none is named); null for any other error.
 */
export function missingDataset(text: string): { readonly name: string | null } | null {
  const missing =
    /dataset/i.test(text) &&
    /not in cache|not found|missing|no such file|download failed|does not exist/i.test(text);
  if (!missing) return null;
  // The worker's message ends with the command that fixes it: "gapwatch datasets import mnist".
  const imported = /\bdatasets\s+import\s+([A-Za-z][\w-]*)/i.exec(text);
  if (imported) return { name: imported[1]! };
  const named = /datasets?[\s/'"`:]+([A-Za-z][\w-]*)/gi;
  for (const match of text.matchAll(named)) {
    const name = match[1]!;
    if (!NOT_A_NAME.has(name.toLowerCase())) return { name };
  }
  return { name: null };
}

function hintFor(text: string, run: Pick<RunRead, "id" | "kind" | "status">): ErrorHint | null {
  const dataset = missingDataset(text);
  if (dataset) {
    return {
      text:
        "The worker could not find the dataset's files and could not download them. On the " +
        "worker's host, import a copy of the official files into its data directory " +
        "(`GAPWATCH_DATA_DIR`, default `./.gapwatch`): PATH is the files, a folder or an " +
        "archive, compressed or not. Or point `GAPWATCH_DATASET_MIRROR` at a mirror. Then " +
        "retry the run:",
      command: `gapwatch datasets import ${dataset.name ?? "<name>"} PATH`,
    };
  }
  if (/out of memory/i.test(text)) {
    return {
      text:
        "The device ran out of memory. Lower `training.batch_size` or the model's size, or run " +
        "it on a device with more memory.",
      command: null,
    };
  }
  if (run.status === "crashed" && run.kind === "loop") {
    return {
      text: "The training loop stopped sending heartbeats. Its code can pick the run up again with:",
      command: `gapwatch.init(resume=${run.id})`,
    };
  }
  return null;
}

/** How the page shows a failed or crashed run's error text. */
export function describeRunError(
  error: string,
  run: Pick<RunRead, "id" | "kind" | "status">,
): RunErrorView {
  const text = error.replace(/\r\n/g, "\n").trim();
  const lines = text.split("\n");
  const head = headLine(lines);
  const summary = lineInWords(head) || "No error message was recorded.";
  const details = lines.filter((l) => l.trim()).length > 1 ? text : null;
  return {
    title: run.status === "crashed" ? "The run crashed" : "The run failed",
    summary,
    details,
    hint: hintFor(text, run),
  };
}
