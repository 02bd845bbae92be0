// The summary cards: one per registry metric worth a card (every headline metric, plus a few
// continual-evaluation ones), read from the summary's `metrics` and labelled and explained by
// the registry (GET /api/v1/definitions). A headline metric added on the server gets a card.
import type { RunSummary } from "../../api/client";
import { type Definition, definitionHover } from "../../api/definitions";
import { percent, plusMinus, points, signedPercent } from "../../charts/format";

/** Cards besides the headline metrics, after them. */
const EXTRA_CARDS = ["wf10", "wf100", "fwt", "learning_accuracy"];
/** Differences that can go either way: shown with a sign. */
const SIGNED = new Set(["bwt", "fwt", "forgetting"]);
/** Differences in points rather than accuracies. */
const POINTS = new Set(["gap", "gap_depth", "gap_forgetting"]);

export interface SummaryCard {
  readonly metric: string;
  readonly label: string;
  /** What the number is, in a few words under it. */
  readonly caption: string;
  /** The API's raw number (a fraction or a share), null when not defined yet. */
  readonly value: number | null;
  readonly text: string;
  /** "± 1.2" (standard error in points) where the API gives one, else "". */
  readonly error: string;
  /** Hover text: the registry's definition, formula and direction. */
  readonly title: string;
}

/** The first clause of a definition: short enough to sit under a number. */
export function shortCaption(definition: string, limit = 64): string {
  const clause = (definition.split(/(?<=\w)[.:;(]/)[0] ?? "").trim();
  return clause.length <= limit ? clause : `${clause.slice(0, limit - 1).trimEnd()}…`;
}

function cardText(id: string, unit: Definition["unit"], value: number | null): string {
  if (unit === "share") return percent(value, 0);
  if (SIGNED.has(id)) return signedPercent(value);
  if (POINTS.has(id)) return value === null ? percent(value) : points(value, 1);
  return percent(value, 2);
}

/** The definitions that get a card, in order: headline metrics, then the extras. */
export function cardDefinitions(definitions: readonly Definition[]): Definition[] {
  const byId = new Map(definitions.map((d) => [d.id, d]));
  const headline = definitions.filter((d) => d.headline);
  const extras = EXTRA_CARDS.flatMap((id) => byId.get(id) ?? []);
  return [...headline, ...extras.filter((d) => !d.headline)];
}

/** The cards of `summary`, labelled by `definitions` (nothing until the registry is known). */
export function summaryCards(summary: RunSummary, definitions: readonly Definition[]): SummaryCard[] {
  return cardDefinitions(definitions).flatMap((d) => {
    const metric = summary.metrics[d.id];
    if (!metric) return [];
    const value = metric.value ?? null;
    const rows = d.id.startsWith("gap") && metric.n != null;
    return [
      {
        metric: d.id,
        label: d.label,
        caption: rows ? `over ${metric.n} eligible rows` : shortCaption(d.definition),
        value,
        text: cardText(d.id, d.unit, value),
        error: plusMinus(metric.se),
        title: definitionHover(d) + (d.id.startsWith("gap") ? `\ngap window: ${summary.gap_window} it` : ""),
      },
    ];
  });
}

/** "after 3 of 5 tasks" while the numbers are provisional, else null. */
export function provisionalNote(summary: RunSummary): string | null {
  if (summary.complete) return null;
  if (summary.tasks_completed === 0) return "no task has ended yet";
  const total = summary.tasks_total ? ` of ${summary.tasks_total}` : "";
  return `after ${summary.tasks_completed}${total} tasks`;
}
