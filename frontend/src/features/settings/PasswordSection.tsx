// Set a password (people invited with a one-time link have none) or change it.
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";

import { api, apiErrorText, unwrap } from "../../api/client";
import { useMe, useSessionActions } from "../../auth/session";
import { MIN_PASSWORD_CHARS, passwordProblem } from "./settingsModel";

export function PasswordSection() {
  const me = useMe();
  const session = useSessionActions();
  const hasPassword = me.user.has_password;
  const [current, setCurrent] = useState("");
  const [password, setPassword] = useState("");
  const [repeated, setRepeated] = useState("");
  const [attempted, setAttempted] = useState(false);

  const change = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.PUT("/api/v1/auth/password", {
          body: { current_password: hasPassword ? current : null, new_password: password },
        }),
      ),
    onSuccess: () => {
      setCurrent("");
      setPassword("");
      setRepeated("");
      setAttempted(false);
      void session.refresh(); // has_password
    },
  });

  const problem =
    hasPassword && !current ? "Enter your current password" : passwordProblem(password, repeated);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setAttempted(true);
    change.reset();
    if (!problem) change.mutate();
  };
  const error = (attempted && problem) || (change.error && apiErrorText(change.error));

  return (
    <section className="settings-section" id="password" data-testid="settings-password">
      <h2>Password</h2>
      <p className="muted">
        {hasPassword
          ? "Change the password you sign in with."
          : "You have no password yet (you signed in with a one-time link): set one to sign in with your name."}
      </p>
      <form className="settings-form" onSubmit={submit} noValidate>
        {/* For password managers: the account the password belongs to. */}
        <input type="text" hidden readOnly autoComplete="username" value={me.user.name} />
        {hasPassword && (
          <label>
            Current password
            <input
              type="password"
              data-testid="password-current"
              autoComplete="current-password"
              value={current}
              onChange={(e) => setCurrent(e.target.value)}
            />
          </label>
        )}
        <label>
          New password
          <input
            type="password"
            data-testid="password-new"
            autoComplete="new-password"
            placeholder={`${MIN_PASSWORD_CHARS} characters or more`}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <label>
          New password again
          <input
            type="password"
            data-testid="password-repeat"
            autoComplete="new-password"
            value={repeated}
            onChange={(e) => setRepeated(e.target.value)}
          />
        </label>
        <button type="submit" className="primary" data-testid="password-submit" disabled={change.isPending}>
          {hasPassword ? "Change password" : "Set password"}
        </button>
      </form>
      {error && (
        <p className="error" data-testid="password-error" role="alert">
          {error}
        </p>
      )}
      {change.isSuccess && (
        <p className="ok" data-testid="password-saved" role="status">
          Password saved.
        </p>
      )}
    </section>
  );
}
