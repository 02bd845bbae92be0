// Set a password (people invited with a one-time link have none) or change it.
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";

import { api, unwrap } from "../../api/client";
import { useMe, useSessionActions } from "../../auth/session";
import { ErrorAlert, TextField } from "./formParts";
import { MIN_PASSWORD_CHARS, passwordProblem } from "./settingsModel";
import { useFormCheck } from "./useFormCheck";

export function PasswordSection() {
  const me = useMe();
  const session = useSessionActions();
  const hasPassword = me.user.has_password;
  const [current, setCurrent] = useState("");
  const [password, setPassword] = useState("");
  const [repeated, setRepeated] = useState("");
  const check = useFormCheck(
    hasPassword && !current ? "Enter your current password" : passwordProblem(password, repeated),
  );

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
      check.sent();
      void session.refresh(); // has_password
    },
  });

  const submit = (event: FormEvent) => {
    const ready = check.submitted(event);
    change.reset(); // an earlier answer, "Password saved." included, is old news
    if (ready) change.mutate();
  };

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
          <TextField
            label="Current password"
            type="password"
            testId="password-current"
            autoComplete="current-password"
            value={current}
            onChange={setCurrent}
          />
        )}
        <TextField
          label="New password"
          type="password"
          testId="password-new"
          autoComplete="new-password"
          placeholder={`${MIN_PASSWORD_CHARS} characters or more`}
          value={password}
          onChange={setPassword}
        />
        <TextField
          label="New password again"
          type="password"
          testId="password-repeat"
          autoComplete="new-password"
          value={repeated}
          onChange={setRepeated}
        />
        <button type="submit" className="primary" data-testid="password-submit" disabled={change.isPending}>
          {hasPassword ? "Change password" : "Set password"}
        </button>
      </form>
      <ErrorAlert testId="password-error" error={check.shown ?? change.error} />
      {change.isSuccess && (
        <p className="ok" data-testid="password-saved" role="status">
          Password saved.
        </p>
      )}
    </section>
  );
}
