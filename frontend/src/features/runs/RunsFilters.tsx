import { useEffect, useState } from "react";

import { RUN_STATUSES, type RunsView, withFilter } from "./runsQuery";

// The tag filter is typed; the list follows after a pause rather than on every keystroke.
const TAG_DEBOUNCE_MS = 350;

interface Props {
  view: RunsView;
  /** The user's projects (GET /auth/me). */
  projects: readonly string[];
  benchmarks: readonly string[];
  strategies: readonly string[];
  onChange: (next: RunsView) => void;
}

/** The choices of a filter select: the known names, plus the URL's value if it is not one. */
function choices(known: readonly string[], current: string | null): string[] {
  return current && !known.includes(current) ? [...known, current] : [...known];
}

interface FilterSelectProps {
  label: string;
  filter: "project" | "status" | "benchmark" | "strategy";
  options: readonly string[];
  view: RunsView;
  onChange: (next: RunsView) => void;
}

/** One select filter (`filter-<name>`): "any" or one of `options`. */
function FilterSelect({ label, filter, options, view, onChange }: FilterSelectProps) {
  return (
    <label>
      {label}
      <select
        data-testid={`filter-${filter}`}
        value={view[filter] ?? ""}
        onChange={(e) => onChange(withFilter(view, filter, e.target.value))}
      >
        <option value="">any</option>
        {options.map((option) => (
          <option key={option} value={option}>
            {option}
          </option>
        ))}
      </select>
    </label>
  );
}

export function RunsFilters({ view, projects, benchmarks, strategies, onChange }: Props) {
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
      <FilterSelect
        label="Project"
        filter="project"
        options={choices(projects, view.project)}
        view={view}
        onChange={onChange}
      />
      <FilterSelect
        label="Status"
        filter="status"
        options={RUN_STATUSES}
        view={view}
        onChange={onChange}
      />
      <FilterSelect
        label="Benchmark"
        filter="benchmark"
        options={choices(benchmarks, view.benchmark)}
        view={view}
        onChange={onChange}
      />
      <FilterSelect
        label="Strategy"
        filter="strategy"
        options={choices(strategies, view.strategy)}
        view={view}
        onChange={onChange}
      />
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
