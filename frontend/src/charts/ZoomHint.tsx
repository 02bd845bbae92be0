import type { StepRange } from "./budget";

interface Props {
  zoom: StepRange | null;
  onReset: () => void;
}

/** Says how to zoom, or which iterations are shown with a button back to the whole run. */
export function ZoomHint({ zoom, onReset }: Props) {
  return (
    <span className="muted zoom-hint">
      {zoom ? (
        <>
          iterations {zoom.start.toLocaleString("en-US")}–{(zoom.end - 1).toLocaleString("en-US")}{" "}
          <button type="button" data-testid="reset-zoom" onClick={onReset}>
            Reset zoom
          </button>
        </>
      ) : (
        "drag across a chart to zoom · double-click to reset"
      )}
    </span>
  );
}
