// The summary cards: which RunSummary numbers the run page shows, and how each reads.
import type { RunSummary } from "../../api/client";
import { percent, plusMinus, signedPercent } from "../../charts/format";

export type CardMetric =
  | "acc"
  | "bwt"
  | "forgetting"
  | "min_acc"
  | "wc_acc"
  | "wf10"
  | "wf100"
  | "fwt"
  | "learning_accuracy";

export interface SummaryCard {
  readonly metric: CardMetric;
  readonly label: string;
  /** What the number is, in a few words under it. */
  readonly caption: string;
  /** The API's raw number (a fraction), null when not defined yet. */
  readonly value: number | null;
  readonly text: string;
  /** "± 1.2" (standard error in points) where the API gives one, else "". */
  readonly error: string;
  /** Hover text: the definition id and the formula, as the API states them. */
  readonly title: string;
}

function windowValue(summary: RunSummary, w: number): number | null {
  return summary.wf.windows.find((window) => window.w === w)?.value ?? null;
}

function hover(definition: string, formula: string, extra?: string | null): string {
  return [`${definition}: ${formula}`, extra].filter(Boolean).join("\n");
}

/** The cards, in reading order: end-of-task metrics, then continual-evaluation ones. */
export function summaryCards(summary: RunSummary): SummaryCard[] {
  const s = summary;
  const wf = (w: number): SummaryCard => ({
    metric: w === 10 ? "wf10" : "wf100",
    label: `WF${w}`,
    caption: `worst drop within ${w} evaluations`,
    value: windowValue(s, w),
    text: percent(windowValue(s, w), 2),
    error: "",
    title: hover(s.wf.definition, s.wf.formula, `w = ${w}`),
  });
  return [
    {
      metric: "acc",
      label: "ACC",
      caption: "final average accuracy",
      value: s.acc.value,
      text: percent(s.acc.value, 2),
      error: plusMinus(s.acc.se),
      title: hover(s.acc.definition, s.acc.formula),
    },
    {
      metric: "bwt",
      label: "BWT",
      caption: "backward transfer",
      value: s.bwt.value,
      text: signedPercent(s.bwt.value),
      error: "",
      title: hover(s.bwt.definition, s.bwt.formula),
    },
    {
      metric: "forgetting",
      label: "Forgetting",
      caption: "max earlier − final (Chaudhry)",
      value: s.forgetting.value,
      text: signedPercent(s.forgetting.value),
      error: "",
      title: hover(s.forgetting.definition, s.forgetting.formula),
    },
    {
      metric: "min_acc",
      label: "min-ACC",
      caption: "lowest accuracy after learning",
      value: s.min_acc.value,
      text: percent(s.min_acc.value, 2),
      error: plusMinus(s.min_acc.se),
      title: hover(s.min_acc.definition, s.min_acc.formula),
    },
    {
      metric: "wc_acc",
      label: "WC-ACC",
      caption: "worst-case accuracy",
      value: s.wc_acc.value,
      text: percent(s.wc_acc.value, 2),
      error: plusMinus(s.wc_acc.se),
      title: hover(s.wc_acc.definition, s.wc_acc.formula),
    },
    wf(10),
    wf(100),
    {
      metric: "fwt",
      label: "FWT",
      caption: "forward transfer",
      value: s.fwt.value,
      text: signedPercent(s.fwt.value),
      error: "",
      title: hover(s.fwt.definition, s.fwt.formula, s.fwt.note),
    },
    {
      metric: "learning_accuracy",
      label: "Learning acc.",
      caption: "each task right after training it",
      value: s.learning_accuracy.value,
      text: percent(s.learning_accuracy.value, 2),
      error: plusMinus(s.learning_accuracy.se),
      title: hover(s.learning_accuracy.definition, s.learning_accuracy.formula),
    },
  ];
}

/** "after 3 of 5 tasks" while the numbers are provisional, else null. */
export function provisionalNote(summary: RunSummary): string | null {
  if (summary.complete) return null;
  if (summary.tasks_completed === 0) return "no task has ended yet";
  const total = summary.tasks_total ? ` of ${summary.tasks_total}` : "";
  return `after ${summary.tasks_completed}${total} tasks`;
}
