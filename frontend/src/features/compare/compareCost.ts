// The compare view's cost rows and plasticity overlays. Costs: each run's totals (the compare
// answer's `costs`) and their ratios to its joint baseline, a group column the mean over its runs
// that have the number. Plasticity: one overlay chart per diag/ key any compared run logged.
import type { Schemas } from "../../api/client";
import { COMPARE_COST_QUANTITIES, costQuantity, formatCost, ratioLabel } from "../run/cost";
import { plasticityCharts } from "../run/plasticity";

type RunCostTotals = Schemas["RunCostTotals"];

export interface CostCell {
  /** The total (a group: the mean over its runs that have it), or null. */
  readonly value: number | null;
  readonly text: string;
  /** The ratio to retraining (a group: the mean of its runs' ratios), or null. */
  readonly ratio: number | null;
  readonly ratioText: string | null;
  /** Runs behind the value. */
  readonly n: number;
}

function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

/** One quantity of the runs `runIds` (one: a run column; several: a group's mean). */
export function costCell(
  quantity: string,
  runIds: readonly number[],
  costs: ReadonlyMap<number, RunCostTotals>,
): CostCell {
  const values: number[] = [];
  const ratios: number[] = [];
  for (const id of runIds) {
    const cost = costs.get(id);
    const value = cost?.totals[quantity];
    if (typeof value === "number" && Number.isFinite(value)) values.push(value);
    const ratio = cost?.baseline?.ratios[quantity];
    if (typeof ratio === "number" && Number.isFinite(ratio)) ratios.push(ratio);
  }
  const value = mean(values);
  const ratio = mean(ratios);
  return { value, text: formatCost(quantity, value), ratio, ratioText: ratioLabel(ratio), n: values.length };
}

/** The cost rows the compare table shows: the compare quantities some run has, in order. */
export function costQuantitiesOf(costs: readonly RunCostTotals[]): { id: string; label: string }[] {
  const present = new Set(costs.flatMap((c) => Object.keys(c.totals)));
  return COMPARE_COST_QUANTITIES.filter((q) => present.has(q)).map((id) => ({
    id,
    label: costQuantity(id).label,
  }));
}

export interface DiagOverlay {
  readonly key: string;
  readonly title: string;
  readonly yLabel: string;
  readonly scale: number;
  readonly yUnit: string;
}

/**
 * One overlay chart per diagnostic key of the union of the runs' keys, grouped as the run page
 * groups them ("Dormant units · all hidden", "Effective rank · hidden 0", …).
 */
export function diagOverlays(keys: readonly string[]): DiagOverlay[] {
  return plasticityCharts([...new Set(keys)]).flatMap((chart) =>
    chart.keys.map((key, i) => ({
      key,
      title: chart.keys.length > 1 ? `${chart.title} · ${chart.labels[i]}` : chart.title,
      yLabel: chart.yLabel,
      scale: chart.scale,
      yUnit: chart.yUnit,
    })),
  );
}
