// A loop run's free-form config (RunRead.config), read as flat "dotted.key = value" entries: the
// runs list summarises the first few, the run page tables them, compare diffs them, and the
// runs list searches them (?config.<dotted.key>=<value>, the value compared as JSON).

/** One config entry: the dotted path of a leaf and its JSON value. */
export type ConfigEntry = readonly [key: string, value: unknown];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The leaves of a config, nested keys joined with dots, in the config's own order. Lists stay
 * one value (`layers = [64,64]`); an empty object is a leaf of its own (`{}`).
 */
export function flattenConfig(config: unknown, prefix = ""): ConfigEntry[] {
  if (!isPlainObject(config)) return prefix ? [[prefix, config]] : [];
  const keys = Object.keys(config);
  if (keys.length === 0) return prefix ? [[prefix, {}]] : [];
  return keys.flatMap((key) => flattenConfig(config[key], prefix ? `${prefix}.${key}` : key));
}

/** A value as JSON text (`0.01`, `"adam"`, `true`, `[64,64]`): what the run page's table shows. */
export function jsonText(value: unknown): string {
  return value === undefined ? "" : JSON.stringify(value);
}

// A bare word of the config search: no space, comma, quote, bracket or "=".
const BARE_WORD = /^[^\s,"'[\]{}=]+$/;

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * A value as the config search writes it: a string as the bare word when the server would read
 * it back as that string (`adam`), else JSON (`0.01`, `true`, `"0.01"`, `"two words"`).
 */
export function searchValueText(value: unknown): string {
  if (typeof value === "string" && BARE_WORD.test(value) && !parsesAsJson(value)) return value;
  return jsonText(value);
}

/** "key=value" as the config search (and the runs list's summary) write it. */
export function entryText([key, value]: ConfigEntry): string {
  return `${key}=${searchValueText(value)}`;
}

const SUMMARY_VALUE_CHARS = 24;

function shortened(text: string, chars: number): string {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

export interface ConfigSummary {
  /** The first entries, "lr=0.01 · memory=2000 · optimizer.name=sgd"; empty for no config. */
  readonly text: string;
  /** How many entries the text leaves out. */
  readonly more: number;
  /** Every entry, one a line (a tooltip). */
  readonly full: string;
}

/**
 * The first `count` entries of a config, short enough for a table cell; `skip` leaves out keys
 * shown elsewhere (the runs list's seed column shows a top-level `seed`).
 */
export function configSummary(
  config: unknown,
  count = 3,
  skip: readonly string[] = [],
): ConfigSummary {
  const all = flattenConfig(config);
  const entries = all.filter(([key]) => !skip.includes(key));
  const text = entries
    .slice(0, count)
    .map(([key, value]) => `${key}=${shortened(searchValueText(value), SUMMARY_VALUE_CHARS)}`)
    .join(" · ");
  return {
    text,
    more: Math.max(0, entries.length - count),
    full: all.map(entryText).join("\n"),
  };
}

/** A top-level integer `seed` of a config (what the runs list's seed column shows), or null. */
export function configSeed(config: unknown): number | null {
  const seed = isPlainObject(config) ? config.seed : undefined;
  return typeof seed === "number" && Number.isInteger(seed) ? seed : null;
}

// The keys the runs list's config search takes (the API's rule): letters, digits, _ and -.
export const CONFIG_KEY_PART = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_CONFIG_DEPTH = 8;

/** Whether a dotted key can be searched for (every part a valid key, at most 8 deep). */
export function searchableKey(key: string): boolean {
  const parts = key.split(".");
  return parts.length <= MAX_CONFIG_DEPTH && parts.every((part) => CONFIG_KEY_PART.test(part));
}

/** Whether a value can be searched for: a scalar (JSON equality of lists and objects is not
 * what one expects from a search box). */
export function searchableValue(value: unknown): boolean {
  return value === null || ["string", "number", "boolean"].includes(typeof value);
}

/** The runs list filtered to runs with this config entry, or null when it cannot be searched. */
export function configSearchHref(key: string, value: unknown): string | null {
  if (!searchableKey(key) || !searchableValue(value)) return null;
  const text = searchValueText(value);
  if (text.length > 200) return null;
  return `/runs?${new URLSearchParams({ [`config.${key}`]: text }).toString()}`;
}
