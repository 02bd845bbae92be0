// Several seeds of one spec are one experiment: the New-run form submits the spec once per seed,
// all in one group, so the compare page can show mean ± std across them.

/** Most runs one submission creates: a typo such as "0-10000" must not queue ten thousand runs. */
export const MAX_SEEDS = 100;

export type SeedsResult = { seeds: number[]; error?: undefined } | { seeds?: undefined; error: string };

/**
 * Seeds from text such as "0", "0,1,2", "0-4" or "0-2, 7": in the order given, duplicates
 * dropped, each within [min, max]. Empty text is an empty list (the form's `seed` then applies).
 */
export function parseSeeds(text: string, min = 0, max = 2 ** 31 - 1): SeedsResult {
  const seeds: number[] = [];
  const seen = new Set<number>();
  const add = (seed: number) => {
    if (!seen.has(seed)) {
      seen.add(seed);
      seeds.push(seed);
    }
  };
  for (const part of text.split(",").map((p) => p.trim())) {
    if (part === "") continue;
    const range = /^(\d+)\s*-\s*(\d+)$/.exec(part);
    const single = /^\d+$/.exec(part);
    if (!range && !single) return { error: `"${part}" is not a seed or a range like 0-4` };
    const first = Number(range ? range[1] : part);
    const last = Number(range ? range[2] : part);
    if (last < first) return { error: `range ${part} runs backwards` };
    if (first < min || last > max) return { error: `seeds must lie in [${min}, ${max}]` };
    if (last - first + 1 + seeds.length > MAX_SEEDS) {
      return { error: `at most ${MAX_SEEDS} seeds per submission` };
    }
    for (let seed = first; seed <= last; seed += 1) add(seed);
  }
  return { seeds };
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** "<benchmark>-<strategy>-<yyyymmdd-hhmmss>" in local time: the group of a multi-seed submission. */
export function automaticGroup(benchmark: string, strategy: string, at: Date): string {
  const date = `${at.getFullYear()}${pad(at.getMonth() + 1)}${pad(at.getDate())}`;
  const time = `${pad(at.getHours())}${pad(at.getMinutes())}${pad(at.getSeconds())}`;
  return `${benchmark}-${strategy}-${date}-${time}`;
}

/**
 * The specs one submission posts: the spec as it is for a single seed (or none given), else one
 * copy per seed, all in the user's group or else an automatic one.
 */
export function specsForSeeds<T extends Record<string, unknown>>(
  spec: T,
  seeds: readonly number[],
  automatic: () => string,
): T[] {
  if (seeds.length === 0) return [spec];
  if (seeds.length === 1) return [{ ...spec, seed: seeds[0] }];
  const userGroup = typeof spec.group === "string" && spec.group.trim() !== "" ? spec.group : null;
  const group = userGroup ?? automatic();
  return seeds.map((seed) => ({ ...spec, seed, group }));
}

/** Where to go after submitting: the run itself, or the comparison of all seeds. */
export function destinationAfterSubmit(runIds: readonly number[]): string {
  return runIds.length === 1 ? `/runs/${runIds[0]}` : `/compare?runs=${runIds.join(",")}`;
}
