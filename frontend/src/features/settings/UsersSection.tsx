// Users, for administrators: create one (with a password, or none to send a one-time link),
// disable or enable, make or unmake an admin, and make a one-time sign-in link to hand over.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";

import { api, type Schemas, unwrap } from "../../api/client";
import { useMe } from "../../auth/session";
import { CopyButton } from "../../components/CopyButton";
import { ErrorAlert, TextField } from "./formParts";
import { formatDateTime, MIN_PASSWORD_CHARS } from "./settingsModel";
import { settingsKeys, useUsers } from "./queries";
import { useFormCheck } from "./useFormCheck";

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$/;

type LoginLink = Schemas["LoginLinkRead"] & { user: string };

export function UsersSection() {
  const me = useMe();
  const client = useQueryClient();
  const users = useUsers();
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [admin, setAdmin] = useState(false);
  const [link, setLink] = useState<LoginLink | null>(null);
  const check = useFormCheck(
    !USER_NAME.test(name.trim())
      ? "A name of letters, digits and _.@+- (64 at most)"
      : password && password.length < MIN_PASSWORD_CHARS
        ? `A password needs ${MIN_PASSWORD_CHARS} characters or more (or leave it empty)`
        : null,
  );
  const refresh = () => client.invalidateQueries({ queryKey: settingsKeys.users });

  const create = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/users", {
          body: { name: name.trim(), password: password || null, is_admin: admin },
        }),
      ),
    onSuccess: () => {
      setName("");
      setPassword("");
      setAdmin(false);
      check.sent();
      void refresh();
    },
  });
  const update = useMutation({
    mutationFn: async (change: { name: string; disabled?: boolean; is_admin?: boolean }) =>
      unwrap(
        await api.PATCH("/api/v1/users/{name}", {
          params: { path: { name: change.name } },
          body: { disabled: change.disabled, is_admin: change.is_admin },
        }),
      ),
    onSuccess: () => void refresh(),
  });
  const makeLink = useMutation({
    mutationFn: async (user: string) => ({
      user,
      ...unwrap(
        await api.POST("/api/v1/users/{name}/login-link", { params: { path: { name: user } } }),
      ),
    }),
    onSuccess: setLink,
  });

  const submit = (event: FormEvent) => {
    if (check.submitted(event)) create.mutate();
  };

  return (
    <section className="settings-section" id="users" data-testid="settings-users">
      <h2>Users</h2>
      <p className="muted">
        Only administrators see this. Someone created without a password signs in with a
        one-time link, then sets one under Password.
      </p>
      <form className="settings-form" onSubmit={submit} noValidate>
        <TextField label="Name" testId="user-name" autoComplete="off" value={name} onChange={setName} />
        <TextField
          label="Password (optional)"
          type="password"
          testId="user-password"
          autoComplete="new-password"
          placeholder="none: sign in with a link"
          value={password}
          onChange={setPassword}
        />
        <label className="checkbox-label">
          <input
            type="checkbox"
            data-testid="user-admin"
            checked={admin}
            onChange={(e) => setAdmin(e.target.checked)}
          />
          Administrator
        </label>
        <button type="submit" className="primary" data-testid="user-create" disabled={create.isPending}>
          Create user
        </button>
      </form>
      <ErrorAlert testId="user-error" error={check.shown ?? create.error} />

      {link && (
        <div className="secret-box" data-testid="user-link" role="status">
          <p>
            <strong>One-time sign-in link for {link.user}</strong>, valid once until{" "}
            {formatDateTime(link.expires_at)}. Hand it to them privately.
          </p>
          <div className="secret-row">
            <code className="copyable secret" data-testid="user-link-url">
              {link.url}
            </code>
            <CopyButton text={link.url} testId="user-link-copy" />
          </div>
          <button type="button" onClick={() => setLink(null)}>
            Done
          </button>
        </div>
      )}

      {users.isError && <p className="error">Could not load the users: {users.error.message}</p>}
      {users.data && (
        <div className="table-scroll">
          <table data-testid="users-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Role</th>
                <th>Password</th>
                <th>State</th>
                <th>Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {users.data.map((user) => (
                <tr
                  key={user.name}
                  data-testid="user-row"
                  data-user={user.name}
                  data-disabled={user.disabled}
                >
                  <td>
                    {user.name}
                    {user.name === me.user.name && <span className="muted"> (you)</span>}
                  </td>
                  <td>{user.is_admin ? "admin" : "user"}</td>
                  <td>{user.has_password ? "set" : "none"}</td>
                  <td data-testid="user-status">{user.disabled ? "disabled" : "active"}</td>
                  <td>{formatDateTime(user.created_at)}</td>
                  <td>
                    <div className="row-actions">
                      <button
                        type="button"
                        data-testid="user-toggle-disabled"
                        disabled={update.isPending}
                        onClick={() => update.mutate({ name: user.name, disabled: !user.disabled })}
                      >
                        {user.disabled ? "Enable" : "Disable"}
                      </button>
                      <button
                        type="button"
                        data-testid="user-toggle-admin"
                        disabled={update.isPending}
                        onClick={() => update.mutate({ name: user.name, is_admin: !user.is_admin })}
                      >
                        {user.is_admin ? "Remove admin" : "Make admin"}
                      </button>
                      <button
                        type="button"
                        data-testid="user-login-link"
                        disabled={makeLink.isPending || user.disabled}
                        onClick={() => makeLink.mutate(user.name)}
                      >
                        Sign-in link
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ErrorAlert testId="user-row-error" error={update.error ?? makeLink.error} />
    </section>
  );
}
