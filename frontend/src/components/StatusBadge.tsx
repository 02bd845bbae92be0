import type { RunRead } from "../api/client";

export type RunStatus = RunRead["status"];

/** A queued or running run: it still changes, so its views poll or stream. */
export function isActiveStatus(status: RunStatus): boolean {
  return status === "queued" || status === "running";
}

/** A run's status as a coloured pill; its text is the raw status word (tests and users rely on it). */
export function StatusBadge({ status }: { status: RunStatus }) {
  return (
    <span className={`status-badge status-${status}`} title={STATUS_HINTS[status]}>
      {status}
    </span>
  );
}

/** What a status word means where it is not obvious. */
const STATUS_HINTS: Partial<Record<RunStatus, string>> = {
  crashed: "The training loop stopped sending heartbeats; its code can resume the run",
};
