// Where the user is signed in: every dashboard session, and signing the others out.
import { useMutation, useQueryClient } from "@tanstack/react-query";

import { api, unwrap } from "../../api/client";
import { ErrorAlert } from "./formParts";
import { describeUserAgent, formatDateTime, otherSessions } from "./settingsModel";
import { settingsKeys, useSessions } from "./queries";

async function endSession(id: number): Promise<void> {
  unwrap(await api.DELETE("/api/v1/auth/sessions/{session_id}", { params: { path: { session_id: id } } }));
}

export function SessionsSection() {
  const client = useQueryClient();
  const sessions = useSessions();
  const others = otherSessions(sessions.data ?? []);
  const refresh = () => client.invalidateQueries({ queryKey: settingsKeys.sessions });

  const revoke = useMutation({ mutationFn: endSession, onSettled: () => void refresh() });
  const revokeOthers = useMutation({
    mutationFn: async () => {
      for (const session of others) await endSession(session.id);
    },
    onSettled: () => void refresh(),
  });

  return (
    <section className="settings-section" id="sessions" data-testid="settings-sessions">
      <div className="section-head">
        <h2>Sessions</h2>
        <button
          type="button"
          data-testid="sessions-sign-out-others"
          disabled={others.length === 0 || revokeOthers.isPending}
          onClick={() => revokeOthers.mutate()}
        >
          Sign out all other sessions{others.length > 0 ? ` (${others.length})` : ""}
        </button>
      </div>
      {sessions.isError && (
        <p className="error">Could not load your sessions: {sessions.error.message}</p>
      )}
      {sessions.data && (
        <div className="table-scroll">
          <table data-testid="sessions-table">
            <thead>
              <tr>
                <th>Browser</th>
                <th>Address</th>
                <th>Signed in</th>
                <th>Expires</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {sessions.data.map((session) => (
                <tr key={session.id} data-testid="session-row" data-current={session.current}>
                  <td title={session.user_agent ?? undefined}>
                    {describeUserAgent(session.user_agent)}
                  </td>
                  <td>{session.address ?? "—"}</td>
                  <td>{formatDateTime(session.created_at)}</td>
                  <td>{formatDateTime(session.expires_at)}</td>
                  <td>
                    {session.current ? (
                      <span className="tag" data-testid="session-current">
                        this browser
                      </span>
                    ) : (
                      <button
                        type="button"
                        data-testid="session-revoke"
                        disabled={revoke.isPending}
                        onClick={() => revoke.mutate(session.id)}
                      >
                        Sign out
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ErrorAlert prefix="Could not sign a session out: " error={revoke.error ?? revokeOthers.error} />
    </section>
  );
}
