// How the run and compare pages print metric values. Accuracies travel as fractions in [0, 1];
// they are shown as percentages, differences (BWT, forgetting, gap depth) with their sign.
import { MISSING } from "../components/format";

export { MISSING };

type Maybe = number | null | undefined;

function present(value: Maybe): value is number {
  return value !== null && value !== undefined && Number.isFinite(value);
}

/** "87.3%" (digits decimals), or "—". */
export function percent(fraction: Maybe, digits = 1): string {
  return present(fraction) ? `${(fraction * 100).toFixed(digits)}%` : MISSING;
}

/** "+1.20%" / "−12.34%": a difference of accuracies, signed with a true minus. */
export function signedPercent(fraction: Maybe, digits = 2): string {
  if (!present(fraction)) return MISSING;
  const text = Math.abs(fraction * 100).toFixed(digits);
  if (Number(text) === 0) return `${text}%`;
  return `${fraction < 0 ? "−" : "+"}${text}%`;
}

/** Percentage points: "12.3 pp". */
export function points(fraction: Maybe, digits = 1): string {
  return present(fraction) ? `${(fraction * 100).toFixed(digits)} pp` : MISSING;
}

/** "± 1.2" (percentage points of a fraction's standard error or std), or "". */
export function plusMinus(fraction: Maybe, digits = 1): string {
  return present(fraction) ? `± ${(fraction * 100).toFixed(digits)}` : "";
}

/** An iteration count: "1,234 it", or "—". */
export function iterations(n: Maybe): string {
  return present(n) ? `${Math.round(n).toLocaleString("en-US")} it` : MISSING;
}

/** Accuracy-iterations lost (a fraction times iterations) in percentage-point iterations. */
export function area(fractionIterations: Maybe): string {
  return present(fractionIterations)
    ? `${Math.round(fractionIterations * 100).toLocaleString("en-US")} pp·it`
    : MISSING;
}
