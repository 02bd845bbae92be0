// API keys: create one (its secret is shown in this answer only), see them all, revoke one.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";

import { api, type Schemas, unwrap } from "../../api/client";
import { useMe } from "../../auth/session";
import { ConfirmButton } from "../../components/ConfirmButton";
import { CopyButton } from "../../components/CopyButton";
import { ErrorAlert, TextField } from "./formParts";
import { formatDateTime, keyScope, keyState, parseExpiryDays } from "./settingsModel";
import { settingsKeys, useKeys } from "./queries";
import { useFormCheck } from "./useFormCheck";

type KeyRole = NonNullable<Schemas["KeyCreate"]["role"]>;
const KEY_ROLES: readonly KeyRole[] = ["viewer", "editor"];

export function KeysSection() {
  const me = useMe();
  const client = useQueryClient();
  const keys = useKeys();
  const [name, setName] = useState("");
  const [project, setProject] = useState("");
  const [role, setRole] = useState<KeyRole | "">("");
  const [days, setDays] = useState("");
  const [created, setCreated] = useState<Schemas["KeyCreated"] | null>(null);
  const expiry = parseExpiryDays(days);
  const check = useFormCheck(
    !name.trim() ? "Name the key (what uses it, say)" : "error" in expiry ? expiry.error : null,
  );
  const refresh = () => client.invalidateQueries({ queryKey: settingsKeys.keys });

  const create = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/keys", {
          body: {
            name: name.trim(),
            project: project || null,
            role: role || null,
            expires_in_days: "days" in expiry ? expiry.days : null,
          },
        }),
      ),
    onSuccess: (answer) => {
      setCreated(answer);
      setName("");
      check.sent();
      void refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: async (id: number) =>
      unwrap(await api.DELETE("/api/v1/keys/{key_id}", { params: { path: { key_id: id } } })),
    onSuccess: () => void refresh(),
  });

  const submit = (event: FormEvent) => {
    if (!check.submitted(event)) return;
    setCreated(null);
    create.mutate();
  };
  const now = Date.now();

  return (
    <section className="settings-section" id="keys" data-testid="settings-keys">
      <h2>API keys</h2>
      <p className="muted">
        Scripts, the <code>gapwatch</code> command line and CI use a key as{" "}
        <code>Authorization: Bearer &lt;key&gt;</code> (or <code>GAPWATCH_API_KEY</code>). A key
        acts as you, within the project and role it is limited to.
      </p>

      {created && (
        <div className="secret-box" data-testid="key-secret-box" role="status">
          <p>
            <strong>Key “{created.key.name}” created.</strong> Copy it now: it will not be shown
            again.
          </p>
          <div className="secret-row">
            <code className="copyable secret" data-testid="key-secret">
              {created.secret}
            </code>
            <CopyButton text={created.secret} testId="key-copy" />
          </div>
          <button type="button" data-testid="key-secret-done" onClick={() => setCreated(null)}>
            I have copied it
          </button>
        </div>
      )}

      <form className="settings-form" onSubmit={submit} noValidate>
        <TextField
          label="Name"
          testId="key-name"
          value={name}
          maxLength={100}
          placeholder="e.g. laptop, ci"
          onChange={setName}
        />
        <label>
          Project
          <select data-testid="key-project" value={project} onChange={(e) => setProject(e.target.value)}>
            <option value="">all your projects</option>
            {me.projects.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Role
          <select
            data-testid="key-role"
            value={role}
            onChange={(e) => setRole(KEY_ROLES.find((r) => r === e.target.value) ?? "")}
          >
            <option value="">your role</option>
            {KEY_ROLES.map((r) => (
              <option key={r} value={r}>
                {r} at most
              </option>
            ))}
          </select>
        </label>
        <TextField
          label="Expires after (days)"
          testId="key-expiry"
          inputMode="numeric"
          placeholder="never"
          value={days}
          onChange={setDays}
        />
        <button type="submit" className="primary" data-testid="key-create" disabled={create.isPending}>
          {create.isPending ? "Creating…" : "Create key"}
        </button>
      </form>
      <ErrorAlert testId="key-error" error={check.shown ?? create.error} />

      {keys.isError && <p className="error">Could not load your keys: {keys.error.message}</p>}
      {keys.data && keys.data.length === 0 && <p className="empty">No API keys yet.</p>}
      {keys.data && keys.data.length > 0 && (
        <div className="table-scroll">
          <table data-testid="keys-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Key</th>
                <th>Scope</th>
                <th>Created</th>
                <th>Expires</th>
                <th>State</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {keys.data.map((key) => {
                const state = keyState(key, now);
                return (
                  <tr key={key.id} data-testid="key-row" data-key-id={key.id} data-state={state}>
                    <td>{key.name}</td>
                    <td>
                      <code data-testid="key-prefix">{key.prefix}…</code>
                    </td>
                    <td data-testid="key-scope">{keyScope(key)}</td>
                    <td>{formatDateTime(key.created_at)}</td>
                    <td>{key.expires_at ? formatDateTime(key.expires_at) : "never"}</td>
                    <td data-testid="key-state" className={`key-state key-${state}`}>
                      {state === "revoked" ? `revoked ${formatDateTime(key.revoked_at)}` : state}
                    </td>
                    <td>
                      {state === "active" && (
                        <ConfirmButton
                          testId="key-revoke"
                          label="Revoke"
                          question="It stops working at once."
                          confirmLabel="Revoke key"
                          disabled={revoke.isPending}
                          onConfirm={() => revoke.mutate(key.id)}
                        />
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <ErrorAlert prefix="Could not revoke: " error={revoke.error} />
    </section>
  );
}
