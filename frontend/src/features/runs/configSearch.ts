// The runs list's config search: the box's text ("lr=0.01 optimizer.name=adam", entries apart by
// spaces or commas) ⇄ the filters in the URL and the runs-list API query, which are the same
// parameters: ?config.lr=0.01&config.optimizer.name=adam (the server reads each value as JSON
// when it is JSON, else as text).
import { ApiError, problemMessage, validationErrors } from "../../api/client";
import { CONFIG_KEY_PART, MAX_CONFIG_DEPTH } from "../../components/config";

/** One `config.<key>=<value>` filter: a dotted key and the value's text as typed. */
export interface ConfigFilter {
  readonly key: string;
  readonly value: string;
}

export type ConfigSearch =
  | { readonly ok: true; readonly filters: readonly ConfigFilter[] }
  | { readonly ok: false; readonly error: string };

const PARAM_PREFIX = "config.";

/**
 * The entries of the text: apart by whitespace or commas, except inside a quoted value
 * ("two words") or a list or object ([64, 64]); null when a quote is never closed.
 */
function splitEntries(text: string): string[] | null {
  const entries: string[] = [];
  let current = "";
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      current += char;
      if (char === "\\" && i + 1 < text.length) current += text[++i];
      else if (char === '"') quoted = false;
      continue;
    }
    if (char === '"') quoted = true;
    else if (char === "[" || char === "{") depth++;
    else if ((char === "]" || char === "}") && depth > 0) depth--;
    else if (depth === 0 && (char === "," || /\s/.test(char))) {
      if (current) entries.push(current);
      current = "";
      continue;
    }
    current += char;
  }
  if (quoted) return null;
  if (current) entries.push(current);
  return entries;
}

/** Why `key` cannot be searched, or null when it can. */
export function keyProblem(key: string): string | null {
  if (!key) return "the key is missing";
  const parts = key.split(".");
  if (!parts.every((part) => CONFIG_KEY_PART.test(part))) {
    return "keys are letters, digits, _ and -, nested keys joined by dots";
  }
  if (parts.length > MAX_CONFIG_DEPTH) return `at most ${MAX_CONFIG_DEPTH} levels of keys`;
  return null;
}

/**
 * The filters the box's text asks for, or the first problem in it (naming the entry).
 * An empty text is no filter.
 */
export function parseConfigSearch(text: string): ConfigSearch {
  const entries = splitEntries(text);
  if (entries === null) return { ok: false, error: 'a quoted value has no closing "' };
  const filters: ConfigFilter[] = [];
  for (const entry of entries) {
    const at = entry.indexOf("=");
    if (at < 0) return { ok: false, error: `“${entry}”: write key=value, e.g. lr=0.01` };
    const key = entry.slice(0, at);
    const value = entry.slice(at + 1);
    const problem = keyProblem(key);
    if (problem) return { ok: false, error: `“${entry}”: ${problem}` };
    if (!value) {
      return { ok: false, error: `“${entry}”: the value is missing (${key}="" for an empty text)` };
    }
    filters.push({ key, value });
  }
  return { ok: true, filters };
}

/** The box's text for filters: what parseConfigSearch reads back as the same filters. */
export function formatConfigSearch(filters: readonly ConfigFilter[]): string {
  return filters
    .map(({ key, value }) => {
      // A value from a hand-written URL may hold a separator; quote it so that it stays one.
      const parsed = parseConfigSearch(`${key}=${value}`);
      const whole = parsed.ok && parsed.filters.length === 1 && parsed.filters[0]!.value === value;
      return `${key}=${whole ? value : JSON.stringify(value)}`;
    })
    .join(" ");
}

/** Whether two filter lists are the same search. */
export function sameFilters(a: readonly ConfigFilter[], b: readonly ConfigFilter[]): boolean {
  return a.length === b.length && a.every((f, i) => f.key === b[i]!.key && f.value === b[i]!.value);
}

/** The filters of a URL query string (or API query): its `config.<key>` parameters, in order;
 * any with a key that cannot be searched are left out. */
export function configFiltersOf(search: URLSearchParams): ConfigFilter[] {
  const filters: ConfigFilter[] = [];
  for (const [name, value] of search) {
    if (!name.startsWith(PARAM_PREFIX)) continue;
    const key = name.slice(PARAM_PREFIX.length);
    if (keyProblem(key) === null && value.trim()) filters.push({ key, value: value.trim() });
  }
  return filters;
}

/** The `config.<key>` parameters of filters, as the URL and the runs-list API take them. */
export function configParams(filters: readonly ConfigFilter[]): [`config.${string}`, string][] {
  return filters.map(({ key, value }) => [`${PARAM_PREFIX}${key}`, value]);
}

/**
 * What the server said was wrong with a config filter (a 422 whose problem is located at
 * ["query", "config.…"]), as "config.lr: message"; null for any other error.
 */
export function configFilterProblem(error: unknown): string | null {
  if (!(error instanceof ApiError) || error.status !== 422) return null;
  const problems = (validationErrors(error.body) ?? []).filter(
    (problem) =>
      problem.loc[0] === "query" &&
      typeof problem.loc[1] === "string" &&
      problem.loc[1].startsWith("config"),
  );
  if (problems.length === 0) return null;
  return problems.map((problem) => `${problem.loc[1]}: ${problemMessage(problem)}`).join("\n");
}
