/** A thin bar for a fraction in [0, 1]; `label` is what a screen reader hears. */
export function ProgressBar({ fraction, label }: { fraction: number; label?: string }) {
  const clamped = Math.min(1, Math.max(0, fraction));
  const percent = Math.round(clamped * 100);
  return (
    <div
      className="progress-bar"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent}
      aria-label={label}
      title={label ?? `${percent}%`}
    >
      <div className="progress-bar-fill" style={{ width: `${clamped * 100}%` }} />
    </div>
  );
}
