// The Plasticity panel's model: which diag/... keys a run logged (METRICS.md "Plasticity
// diagnostics"; keys in backend/gapwatch/components.py: diag/dormant, diag/<q>/hidden_<i>,
// diag/<q>/layer_<i>, diag/grad_norm, diag/plasticity) and how they group into small charts,
// one per quantity, each layer a line. Pure: the run page and the compare page both use it.

export const DIAG_PREFIX = "diag/";

export interface PlasticityChart {
  /** Stable id (the quantity), for test ids and React keys. */
  readonly id: string;
  readonly title: string;
  readonly yLabel: string;
  /** Keys drawn, in legend order. */
  readonly keys: readonly string[];
  /** One legend label per key. */
  readonly labels: readonly string[];
  /** Shares are drawn in percent (x100). */
  readonly scale: number;
  readonly yUnit: string;
}

interface Quantity {
  readonly id: string;
  readonly title: string;
  readonly yLabel: string;
  readonly share?: boolean;
  /** The run-wide key shown first (diag/dormant: the share over every hidden layer). */
  readonly whole?: string;
}

/** The charts, in display order. */
const QUANTITIES: readonly Quantity[] = [
  { id: "dormant", title: "Dormant units", yLabel: "dormant (%)", share: true, whole: "diag/dormant" },
  { id: "eff_rank", title: "Effective rank", yLabel: "effective rank" },
  { id: "stable_rank", title: "Stable rank", yLabel: "stable rank" },
  { id: "w_abs", title: "Mean |w|", yLabel: "mean |w|" },
  { id: "w_norm", title: "Weight norm ‖w‖₂", yLabel: "‖w‖₂" },
  { id: "grad_norm", title: "Gradient norm", yLabel: "‖g‖₂", whole: "diag/grad_norm" },
  { id: "plasticity", title: "Plasticity", yLabel: "plasticity (%)", share: true, whole: "diag/plasticity" },
];

const LAYER = /^(hidden|layer)_(\d{1,4})$/;

/** "hidden 0" / "layer 2" of a per-layer key's last part, or null when it is none. */
function layerOf(part: string): { label: string; kind: string; index: number } | null {
  const match = LAYER.exec(part);
  if (!match) return null;
  return { label: `${match[1]} ${Number(match[2])}`, kind: match[1]!, index: Number(match[2]) };
}

/**
 * The charts of the diag/ keys among `keys`: one per quantity present, its run-wide key first
 * ("all hidden"), then one line per layer by index. Unknown diag keys are left out.
 */
export function plasticityCharts(keys: readonly string[]): PlasticityChart[] {
  const present = new Set(keys);
  const charts: PlasticityChart[] = [];
  for (const q of QUANTITIES) {
    const prefix = `${DIAG_PREFIX}${q.id}/`;
    const layers = keys
      .filter((k) => k.startsWith(prefix))
      .flatMap((k) => {
        const layer = layerOf(k.slice(prefix.length));
        return layer ? [{ key: k, ...layer }] : [];
      })
      .sort((a, b) => a.kind.localeCompare(b.kind) || a.index - b.index);
    const chartKeys: string[] = [];
    const labels: string[] = [];
    if (q.whole && present.has(q.whole)) {
      chartKeys.push(q.whole);
      labels.push(layers.length > 0 ? "all hidden" : q.title.toLowerCase());
    }
    for (const layer of layers) {
      chartKeys.push(layer.key);
      labels.push(layer.label);
    }
    if (chartKeys.length === 0) continue;
    charts.push({
      id: q.id,
      title: q.title,
      yLabel: q.yLabel,
      keys: chartKeys,
      labels,
      scale: q.share ? 100 : 1,
      yUnit: q.share ? "%" : "",
    });
  }
  return charts;
}

/** Every key the charts draw, for one metrics request. */
export function plasticityKeys(charts: readonly PlasticityChart[]): string[] {
  return charts.flatMap((c) => c.keys);
}
