// A loop run's config, where an engine run shows its spec: a key/value table, nested keys
// flattened with dots and values as JSON; each searchable entry links to the runs with the same
// value (the runs list's config search).
import { Link } from "react-router";

import { configSearchHref, entryText, flattenConfig, jsonText } from "../../components/config";

export interface ConfigRow {
  readonly key: string;
  /** The value as JSON: 0.01, "adam", true, [64,64]. */
  readonly json: string;
  /** The runs list searched for this entry, or null when it cannot be searched. */
  readonly href: string | null;
  /** "lr=0.01": how the search box writes it. */
  readonly search: string;
}

export function configRows(config: unknown): ConfigRow[] {
  return flattenConfig(config).map((entry) => {
    const [key, value] = entry;
    return { key, json: jsonText(value), href: configSearchHref(key, value), search: entryText(entry) };
  });
}

// A long config starts folded so that the charts stay near the top.
const OPEN_UP_TO = 16;

export function RunConfig({ config }: { readonly config: unknown }) {
  const rows = configRows(config);
  return (
    <details className="run-section run-config" data-testid="run-config" open={rows.length <= OPEN_UP_TO}>
      <summary>
        <h2>Config</h2>{" "}
        <span className="muted">
          {rows.length === 0
            ? "none logged"
            : `${rows.length} ${rows.length === 1 ? "entry" : "entries"} · as given to gapwatch.init`}
        </span>
      </summary>
      {rows.length === 0 ? (
        <p className="empty">The training loop gave no config.</p>
      ) : (
        <div className="config-scroll">
          <table className="config-table">
            <tbody>
              {rows.map((row) => (
                <tr key={row.key} data-key={row.key}>
                  <th scope="row">{row.key}</th>
                  <td>
                    <code>{row.json}</code>
                  </td>
                  <td className="config-find">
                    {row.href && (
                      <Link to={row.href} title={`Runs whose config has ${row.search}`}>
                        runs with this
                      </Link>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </details>
  );
}
