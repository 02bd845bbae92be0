// The run's summary numbers as cards; hovering a card shows its definition and formula.
import type { RunSummary } from "../../api/client";
import { useDefinitions } from "../../api/definitions";
import { provisionalNote, summaryCards } from "./summaryCards";

export function SummaryCards({ summary }: { readonly summary: RunSummary }) {
  const note = provisionalNote(summary);
  const definitions = useDefinitions().data ?? [];
  return (
    <section className="summary-section" aria-label="Summary metrics">
      {note && <p className="summary-note">Provisional: {note}.</p>}
      <div className="summary-cards">
        {summaryCards(summary, definitions).map((card) => (
          <div
            key={card.metric}
            className="summary-card"
            data-testid={`summary-card-${card.metric}`}
            data-value={card.value ?? ""}
            title={card.title}
          >
            <div className="summary-card-label">{card.label}</div>
            <div className="summary-card-value">
              {card.text}
              {card.error && <span className="summary-card-error"> {card.error}</span>}
            </div>
            <div className="summary-card-caption">{card.caption}</div>
          </div>
        ))}
      </div>
    </section>
  );
}
