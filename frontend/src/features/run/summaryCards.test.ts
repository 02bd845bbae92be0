import { describe, expect, it } from "vitest";

import type { RunSummary } from "../../api/client";
import type { Definition } from "../../api/definitions";
import { cardDefinitions, provisionalNote, shortCaption, summaryCards } from "./summaryCards";

// A real ER run's summary (split_digits, 5 tasks, evaluation every iteration).
const summary: RunSummary = {
  "run_id": 2,
  "status": "succeeded",
  "tasks_total": 5,
  "tasks_completed": 5,
  "complete": true,
  "as_of_step": 1500,
  "gap_window": 200,
  "metrics": {
    "acc": { "value": 0.7687618205014778, "se": 0.017759309453009544, "n": 5 },
    "bwt": { "value": -0.2422485558953449, "se": null, "n": 4 },
    "forgetting": { "value": 0.25, "se": null, "n": 4 },
    "min_acc": { "value": 0.61, "se": 0.02, "n": 4 },
    "wc_acc": { "value": 0.66, "se": 0.02, "n": 5 },
    "gap": { "value": 0.0512, "se": null, "n": 10 },
    "gap_depth": { "value": 0.3, "se": null, "n": 10 },
    "gap_recovered": { "value": 0.8, "se": null, "n": 10 },
    "wf10": { "value": 0.1223, "se": null, "n": null },
    "wp10": { "value": 0.5, "se": null, "n": null },
    "fwt": { "value": null, "se": null, "n": 4 }
  },
  "eval_samples": {
    "per_task": [
      108,
      108,
      109,
      108,
      106
    ],
    "source": "task_start.eval_samples"
  },
  "accuracy_matrix": {
    "definition": "accuracy_matrix",
    "formula": "R[k][j] = a_j(e_k): accuracy on task j right after training task k",
    "rows": [
      [
        1.0,
        0.0,
        null,
        null,
        null
      ],
      [
        0.7962962962962963,
        0.9351851851851852,
        0.0,
        null,
        null
      ],
      [
        0.7685185185185185,
        0.8333333333333334,
        0.9908256880733946,
        0.0,
        null
      ],
      [
        0.7314814814814815,
        0.8796296296296297,
        0.7706422018348624,
        1.0,
        0.0
      ],
      [
        0.7037037037037037,
        0.7962962962962963,
        0.6422018348623854,
        0.8148148148148148,
        0.8867924528301887
      ]
    ]
  },
  "acc": {
    "definition": "average_accuracy",
    "formula": "ACC = (1/T) Σ_j R[T][j]",
    "value": 0.7687618205014778,
    "se": 0.017759309453009544,
    "per_boundary": [
      1.0,
      0.8657407407407407,
      0.8642258466417488,
      0.8454383282364935,
      0.7687618205014778
    ]
  },
  "bwt": {
    "definition": "backward_transfer",
    "formula": "BWT = 1/(T-1) Σ_{j<T} (R[T][j] − R[j][j])",
    "value": -0.2422485558953449
  },
  "fwt": {
    "definition": "forward_transfer",
    "formula": "FWT = 1/(T-1) Σ_{j>1} (R[j-1][j] − b_j), b_j = untrained model's accuracy",
    "value": -0.15810621942697414,
    "initial_accuracy": [
      0.0,
      0.0,
      0.0,
      0.48148148148148145,
      0.1509433962264151
    ],
    "note": null
  },
  "forgetting": {
    "definition": "chaudhry_max_minus_final",
    "formula": "f_j = max_{k∈[j,T-1]} R[k][j] − R[T][j] (Chaudhry et al.), mean over j < T",
    "value": 0.2422485558953449,
    "per_task": [
      0.2962962962962963,
      0.13888888888888895,
      0.3486238532110092,
      0.18518518518518523
    ]
  },
  "forgetting_from_learned": {
    "definition": "learned_minus_final",
    "formula": "f_j = R[j][j] − R[T][j], mean over j < T",
    "value": 0.2422485558953449,
    "per_task": [
      0.2962962962962963,
      0.13888888888888895,
      0.3486238532110092,
      0.18518518518518523
    ]
  },
  "learning_accuracy": {
    "definition": "learning_accuracy",
    "formula": "LA_k = R[k][k]",
    "value": 0.9625606652177539,
    "se": 0.007979287591027886,
    "per_task": [
      1.0,
      0.9351851851851852,
      0.9908256880733946,
      1.0,
      0.8867924528301887
    ]
  },
  "min_acc": {
    "definition": "min_acc",
    "formula": "min-ACC(k) = mean_{j<k} min_{e_j ≤ i ≤ e_k} a_j(i) over evaluated i",
    "value": 0.614636425416242,
    "se": 0.023067813438020578,
    "per_task": [
      0.6759259259259259,
      0.6574074074074074,
      0.47706422018348627,
      0.6481481481481481,
      0.8867924528301887
    ],
    "per_boundary": [
      null,
      0.7685185185185185,
      0.6851851851851851,
      0.6158115301846189,
      0.614636425416242
    ]
  },
  "wc_acc": {
    "definition": "worst_case_accuracy",
    "formula": "WC-ACC(k) = (1/k)·R[k][k] + (1 − 1/k)·min-ACC(k)",
    "value": 0.6690676308990313,
    "se": 0.019453611305093564,
    "per_boundary": [
      1.0,
      0.8518518518518519,
      0.7870653528145883,
      0.7118586476384642,
      0.6690676308990313
    ],
    "se_per_boundary": [
      0.0,
      0.02349702797439557,
      0.021248975589220835,
      0.01979429635554161,
      0.019453611305093564
    ]
  },
  "wf": {
    "definition": "windowed_forgetting",
    "formula": "WF^w_j = max a_j(i) − a_j(l), i < l within w consecutive evaluations, i ≥ e_j (0 if no drop); mean over j < T",
    "windows": [
      {
        "w": 10,
        "value": 0.12232415902140678,
        "per_task": [
          0.06481481481481488,
          0.12962962962962965,
          0.15596330275229364,
          0.13888888888888895,
          null
        ]
      },
      {
        "w": 100,
        "value": 0.3321865443425076,
        "per_task": [
          0.2129629629629629,
          0.287037037037037,
          0.4954128440366973,
          0.33333333333333337,
          null
        ]
      }
    ]
  },
  "wp": {
    "definition": "windowed_plasticity",
    "formula": "WP^w_k = max a_k(l) − a_k(i), i < l within w consecutive evaluations in [s_k, e_k] (0 if no rise); mean over tasks",
    "windows": [
      {
        "w": 10,
        "value": 0.5162986684104911,
        "per_task": [
          0.49074074074074076,
          0.5277777777777778,
          0.3119266055045871,
          0.6944444444444444,
          0.5566037735849056
        ]
      },
      {
        "w": 100,
        "value": 0.9514306413042781,
        "per_task": [
          1.0,
          0.9259259259259259,
          0.963302752293578,
          1.0,
          0.8679245283018868
        ]
      }
    ]
  }
};

function definition(id: string, overrides: Partial<Definition> = {}): Definition {
  return {
    id,
    label: id.toUpperCase(),
    definition: `What ${id} measures: in words. More.`,
    formula: `${id} = formula`,
    higher_is_better: true,
    unit: "fraction",
    headline: false,
    ...overrides,
  };
}

// The registry as GET /api/v1/definitions lists it (its order is the cards' order).
const definitions: Definition[] = [
  definition("acc", { headline: true }),
  definition("bwt", { headline: true }),
  definition("fwt"),
  definition("forgetting", { headline: true, higher_is_better: false }),
  definition("min_acc", { headline: true }),
  definition("wc_acc", { headline: true }),
  definition("wf10", { higher_is_better: false }),
  definition("wp10"),
  definition("gap", { headline: true, higher_is_better: false }),
  definition("gap_depth", { headline: true, higher_is_better: false }),
  definition("gap_recovered", { headline: true, unit: "share" }),
];

describe("summaryCards", () => {
  const cards = summaryCards(summary, definitions);
  const card = (metric: string) => cards.find((c) => c.metric === metric)!;

  it("has a card per headline metric, then the extras the summary holds, in registry order", () => {
    expect(cards.map((c) => c.metric)).toEqual([
      "acc",
      "bwt",
      "forgetting",
      "min_acc",
      "wc_acc",
      "gap",
      "gap_depth",
      "gap_recovered",
      "wf10",
      "fwt",
    ]);
    expect(cardDefinitions(definitions).map((d) => d.id)).not.toContain("wp10");
    expect(summaryCards(summary, [])).toEqual([]); // nothing until the registry is known
  });

  it("keeps the raw fraction and prints a percentage with its standard error", () => {
    expect(card("acc").value).toBe(summary.metrics.acc?.value);
    expect(card("acc").text).toBe("76.88%");
    expect(card("acc").error).toBe("± 1.8");
  });

  it("signs BWT and forgetting, prints gaps in points and shares as whole percents", () => {
    expect(card("bwt").text).toMatch(/^−\d+\.\d\d%$/);
    expect(card("forgetting").text).toMatch(/^\+\d+\.\d\d%$/);
    expect(card("gap").text).toBe("5.1 pp");
    expect(card("gap_recovered").text).toBe("80%");
    expect(card("gap").caption).toBe("over 10 eligible rows");
  });

  it("puts the registry's definition, formula and direction in the hover title", () => {
    expect(card("acc").title).toContain("acc = formula");
    expect(card("acc").title).toContain("What acc measures");
    expect(card("gap").title).toContain("lower is better");
    expect(card("gap").title).toContain("gap window: 200 it");
  });

  it("is null, printed as a dash, where the API has no number", () => {
    expect(card("fwt").value).toBeNull();
    expect(card("fwt").text).toBe("—");
  });

  it("captions with the definition's first clause", () => {
    expect(shortCaption("Final average accuracy over every task trained so far.")).toBe(
      "Final average accuracy over every task trained so far",
    );
    expect(shortCaption("x".repeat(80)).length).toBe(64);
  });
});

describe("provisionalNote", () => {
  it("says how far the numbers reach while the run is incomplete", () => {
    expect(provisionalNote(summary)).toBeNull();
    expect(provisionalNote({ ...summary, complete: false, tasks_completed: 3 })).toBe(
      "after 3 of 5 tasks",
    );
    expect(provisionalNote({ ...summary, complete: false, tasks_completed: 0 })).toBe(
      "no task has ended yet",
    );
  });
});
