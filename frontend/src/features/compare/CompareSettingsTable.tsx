// What the compared runs were set up with, where they differ: spec fields of engine runs and
// config entries of loop runs (one's own loops are compared along their config).
import { useState } from "react";

import type { RunRead } from "../../api/client";
import { MISSING } from "../../components/format";
import { runDetail, runLabel, settingDifferences } from "./compareModel";

// More rows than this wait behind a "show more" (an engine run and a loop run differ in every
// setting).
const ROWS_SHOWN = 20;

export function CompareSettingsTable({
  runs,
  colors,
}: {
  readonly runs: readonly RunRead[];
  /** Each run's colour, where runs are compared by id (as in the charts and summary). */
  readonly colors?: ReadonlyMap<number, string>;
}) {
  const rows = settingDifferences(runs);
  const [showAll, setShowAll] = useState(false);
  const shown = showAll ? rows : rows.slice(0, ROWS_SHOWN);
  const hidden = rows.length - shown.length;
  return (
    <section className="run-section" aria-labelledby="compare-settings-heading">
      <h2 id="compare-settings-heading">Settings that differ</h2>
      {rows.length === 0 ? (
        <p className="muted" data-testid="compare-settings-same">
          The runs share every setting{runs.some((r) => r.spec === null) ? " and config entry" : ""}
          {" "}but their seeds, if those differ.
        </p>
      ) : (
        <div className="table-scroll">
          <table className="compare-summary-table compare-settings-table" data-testid="compare-settings">
            <thead>
              <tr>
                <th scope="col">setting</th>
                {runs.map((run) => (
                  <th key={run.id} scope="col">
                    {colors?.has(run.id) && (
                      <span
                        className="compare-swatch"
                        style={{ background: `var(${colors.get(run.id)})` }}
                      />
                    )}
                    {runDetail(run)}
                    <span className="muted compare-column-note">{runLabel(run)}</span>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.map((row) => (
                <SettingRow key={row.key} settingKey={row.key} values={row.values} />
              ))}
            </tbody>
          </table>
          {hidden > 0 && (
            <button
              type="button"
              className="link-button"
              data-testid="compare-settings-all"
              onClick={() => setShowAll(true)}
            >
              Show {hidden} more
            </button>
          )}
        </div>
      )}
    </section>
  );
}

function SettingRow({ settingKey, values }: { settingKey: string; values: readonly string[] }) {
  return (
    <tr data-setting={settingKey}>
      <th scope="row">{settingKey}</th>
      {values.map((value, i) => (
        <td key={i}>{value === "" ? <span className="muted">{MISSING}</span> : <code>{value}</code>}</td>
      ))}
    </tr>
  );
}
