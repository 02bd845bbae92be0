import { useEffect, useState } from "react";

import { RUN_STATUSES, type RunsView, withFilter } from "./runsQuery";

// The tag filter is typed; the list follows after a pause rather than on every keystroke.
const TAG_DEBOUNCE_MS = 350;

interface Props {
  view: RunsView;
  benchmarks: readonly string[];
  strategies: readonly string[];
  onChange: (next: RunsView) => void;
}

/** The choices of a filter select: the known names, plus the URL's value if it is not one. */
function choices(known: readonly string[], current: string | null): string[] {
  return current && !known.includes(current) ? [...known, current] : [...known];
}

export function RunsFilters({ view, benchmarks, strategies, onChange }: Props) {
  const [tag, setTag] = useState(view.tag ?? "");
  // The URL may change under the input (back button, a shared link): follow it. The URL holds
  // the trimmed tag, so an input that trims to it already says the same: keep what was typed
  // (a trailing space before the next word).
  useEffect(() => {
    const fromUrl = view.tag ?? "";
    setTag((typed) => (typed.trim() === fromUrl ? typed : fromUrl));
  }, [view.tag]);
  useEffect(() => {
    if ((view.tag ?? "") === tag.trim()) return;
    const timer = window.setTimeout(() => onChange(withFilter(view, "tag", tag)), TAG_DEBOUNCE_MS);
    return () => window.clearTimeout(timer);
  }, [tag, view, onChange]);

  return (
    <div className="runs-filters" role="search">
      <label>
        Status
        <select
          data-testid="filter-status"
          value={view.status ?? ""}
          onChange={(e) => onChange(withFilter(view, "status", e.target.value))}
        >
          <option value="">any</option>
          {RUN_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Benchmark
        <select
          data-testid="filter-benchmark"
          value={view.benchmark ?? ""}
          onChange={(e) => onChange(withFilter(view, "benchmark", e.target.value))}
        >
          <option value="">any</option>
          {choices(benchmarks, view.benchmark).map((b) => (
            <option key={b} value={b}>
              {b}
            </option>
          ))}
        </select>
      </label>
      <label>
        Strategy
        <select
          data-testid="filter-strategy"
          value={view.strategy ?? ""}
          onChange={(e) => onChange(withFilter(view, "strategy", e.target.value))}
        >
          <option value="">any</option>
          {choices(strategies, view.strategy).map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Tag
        <input
          type="search"
          data-testid="filter-tag"
          placeholder="e.g. demo"
          value={tag}
          onChange={(e) => setTag(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") onChange(withFilter(view, "tag", tag));
          }}
        />
      </label>
    </div>
  );
}
