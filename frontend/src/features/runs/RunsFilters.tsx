import { useEffect, useState } from "react";

import { formatConfigSearch, parseConfigSearch, sameFilters } from "./configSearch";
import { RUN_STATUSES, type RunsView, withConfig, withFilter } from "./runsQuery";

// The tag filter and the config search are typed; the list follows after a pause rather than
// on every keystroke.
const TAG_DEBOUNCE_MS = 350;
const CONFIG_DEBOUNCE_MS = 500;
const CONFIG_HELP =
  "Loop runs whose config holds these values: key=value entries apart by spaces or commas, " +
  'nested keys joined by dots, values compared as JSON (0.01, true, "some text")';

interface Props {
  view: RunsView;
  /** The user's projects (GET /auth/me). */
  projects: readonly string[];
  benchmarks: readonly string[];
  strategies: readonly string[];
  /** What the server refused in the config search (a 422 naming the parameter), if anything. */
  configProblem?: string | null;
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

/**
 * The config search box: "lr=0.01 optimizer.name=adam" becomes ?config.lr=0.01&config.… after a
 * pause (or on Enter). Text that is not key=value entries stays in the box with the problem
 * under it, and the list keeps its last search.
 */
function ConfigSearchBox({
  view,
  problem,
  onChange,
}: {
  view: RunsView;
  problem: string | null;
  onChange: (next: RunsView) => void;
}) {
  const fromUrl = formatConfigSearch(view.config);
  const [text, setText] = useState(fromUrl);
  const [error, setError] = useState<string | null>(null);
  // The URL may change under the box (back button, a shared link): follow it, unless what was
  // typed already says the same (keep its spelling: commas, a trailing space).
  useEffect(() => {
    setText((typed) => {
      const parsed = parseConfigSearch(typed);
      return parsed.ok && formatConfigSearch(parsed.filters) === fromUrl ? typed : fromUrl;
    });
    setError(null);
  }, [fromUrl]);

  const apply = (now: string) => {
    const parsed = parseConfigSearch(now);
    if (!parsed.ok) {
      setError(parsed.error);
      return;
    }
    setError(null);
    if (!sameFilters(parsed.filters, view.config)) onChange(withConfig(view, parsed.filters));
  };
  useEffect(() => {
    const parsed = parseConfigSearch(text);
    if (parsed.ok && sameFilters(parsed.filters, view.config)) return;
    const timer = window.setTimeout(() => {
      if (!parsed.ok) setError(parsed.error);
      else onChange(withConfig(view, parsed.filters));
    }, CONFIG_DEBOUNCE_MS);
    return () => window.clearTimeout(timer);
  }, [text, view, onChange]);

  const shown = error ?? problem;
  return (
    <div className="filter-config">
      <label>
        Config
        <input
          type="search"
          data-testid="filter-config"
          placeholder="e.g. lr=0.01 optimizer.name=adam"
          spellCheck={false}
          autoCapitalize="off"
          autoCorrect="off"
          title={CONFIG_HELP}
          value={text}
          aria-invalid={shown ? true : undefined}
          aria-describedby={shown ? "filter-config-error" : undefined}
          onChange={(e) => {
            setText(e.target.value);
            setError(null);
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter") apply(text);
          }}
        />
      </label>
      {shown && (
        <p className="filter-problem" id="filter-config-error" data-testid="filter-config-error" role="alert">
          {error ? `Not searched: ${error}` : `The server refused the config search: ${problem}`}
        </p>
      )}
    </div>
  );
}

export function RunsFilters({
  view,
  projects,
  benchmarks,
  strategies,
  configProblem = null,
  onChange,
}: Props) {
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
      <label>
        Kind
        <select
          data-testid="filter-kind"
          value={view.kind ?? ""}
          onChange={(e) => onChange(withFilter(view, "kind", e.target.value))}
        >
          <option value="">all</option>
          <option value="engine">engine</option>
          <option value="loop">own loop</option>
        </select>
      </label>
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
      <ConfigSearchBox view={view} problem={configProblem} onChange={onChange} />
    </div>
  );
}
