// The Cost card's model (METRICS.md "Cost of a run"; Harun et al. 2023): each cost quantity in
// human units, and its ratio to the run's joint baseline as "0.31× retraining".
import type { Schemas } from "../../api/client";
import { formatBytes, formatCount, MISSING } from "../../components/format";

type RunCostTotals = Schemas["RunCostTotals"];

export type CostUnit = "count" | "flops" | "bytes" | "seconds";

export interface CostQuantity {
  readonly id: string;
  readonly label: string;
  readonly unit: CostUnit;
}

/** The quantities the engine logs (backend/gapwatch/components.py COST_QUANTITIES), in order. */
export const COST_QUANTITIES: readonly CostQuantity[] = [
  { id: "updates", label: "Updates", unit: "count" },
  { id: "samples_new", label: "New samples", unit: "count" },
  { id: "samples_replayed", label: "Replayed samples", unit: "count" },
  { id: "train_flops", label: "Training FLOPs", unit: "flops" },
  { id: "eval_flops", label: "Evaluation FLOPs", unit: "flops" },
  { id: "peak_accelerator_bytes", label: "Peak accelerator memory", unit: "bytes" },
  { id: "peak_host_bytes", label: "Peak host memory", unit: "bytes" },
  { id: "replay_bytes", label: "Replay memory", unit: "bytes" },
  { id: "train_seconds", label: "Training time", unit: "seconds" },
  { id: "eval_seconds", label: "Evaluation time", unit: "seconds" },
  { id: "wall_seconds", label: "Wall-clock", unit: "seconds" },
];

/** The columns the compare view shows (a few: the table is wide already). */
export const COMPARE_COST_QUANTITIES = ["train_flops", "wall_seconds", "updates", "samples_replayed", "replay_bytes"];

const BY_ID = new Map(COST_QUANTITIES.map((q) => [q.id, q]));

/** A quantity's label and unit; an unknown one (a newer engine) is a count under its id. */
export function costQuantity(id: string): CostQuantity {
  return BY_ID.get(id) ?? { id, label: id.replace(/_/g, " "), unit: "count" };
}

/** FLOPs with a decimal SI prefix: "950 FLOP", "1.2 GFLOP", "3.4 TFLOP". */
export function formatFlops(flops: number | null | undefined): string {
  if (flops === null || flops === undefined || !Number.isFinite(flops) || flops < 0) return MISSING;
  const prefixes = ["", "k", "M", "G", "T", "P", "E"];
  let value = flops;
  let i = 0;
  while (value >= 1000 && i < prefixes.length - 1) {
    value /= 1000;
    i += 1;
  }
  return i === 0 ? `${Math.round(value)} FLOP` : `${value.toFixed(1)} ${prefixes[i]}FLOP`;
}

/** Seconds: "0.42 s", "12.3 s", "3m 05s", "1h 02m". */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return MISSING;
  }
  if (seconds < 1) return `${seconds.toFixed(2)} s`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
}

/** A quantity's value in its human unit. */
export function formatCost(id: string, value: number | null | undefined): string {
  switch (costQuantity(id).unit) {
    case "flops":
      return formatFlops(value);
    case "bytes":
      return formatBytes(value);
    case "seconds":
      return formatSeconds(value);
    default:
      return formatCount(value);
  }
}

/** "0.31× retraining" (two significant decimals below 10, one above), or null when undefined. */
export function ratioLabel(ratio: number | null | undefined): string | null {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return null;
  const digits = ratio >= 10 ? 1 : 2;
  return `${ratio.toFixed(digits)}× retraining`;
}

export interface CostRow {
  readonly id: string;
  readonly label: string;
  readonly value: number;
  readonly text: string;
  /** "0.31× retraining", or null without a baseline (or a ratio for this quantity). */
  readonly ratio: string | null;
}

/** The card's rows: every total of the run, in COST_QUANTITIES order, with its ratio. */
export function costRows(cost: RunCostTotals): CostRow[] {
  const ids = Object.keys(cost.totals);
  const known = COST_QUANTITIES.map((q) => q.id).filter((id) => ids.includes(id));
  const others = ids.filter((id) => !BY_ID.has(id)).sort();
  return [...known, ...others].map((id) => {
    const value = cost.totals[id]!;
    return {
      id,
      label: costQuantity(id).label,
      value,
      text: formatCost(id, value),
      ratio: ratioLabel(cost.baseline?.ratios[id]),
    };
  });
}

/** "vs joint run 12" / "vs the mean of joint runs 12, 14", or null without a baseline. */
export function baselineNote(cost: RunCostTotals): string | null {
  const ids = cost.baseline?.run_ids ?? [];
  if (ids.length === 0) return null;
  return ids.length === 1 ? `vs joint run ${ids[0]}` : `vs the mean of joint runs ${ids.join(", ")}`;
}
