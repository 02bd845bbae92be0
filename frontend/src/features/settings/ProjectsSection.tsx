// Projects: the user's, with their role; create one; owners manage the members (and may delete
// a project with its runs).
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, Fragment, useState } from "react";

import { api, unwrap } from "../../api/client";
import { PROJECT_NAME, type Role, ROLES } from "../../auth/roles";
import { useMe, useSessionActions } from "../../auth/session";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorAlert, TextField } from "./formParts";
import { formatDateTime } from "./settingsModel";
import { settingsKeys, useMembers, useProjects } from "./queries";
import { useFormCheck } from "./useFormCheck";

function asRole(value: string): Role {
  return ROLES.find((r) => r === value) ?? "viewer";
}

const ROLE_OPTIONS = ROLES.map((r) => (
  <option key={r} value={r}>
    {r}
  </option>
));

export function ProjectsSection() {
  const client = useQueryClient();
  const session = useSessionActions();
  const projects = useProjects();
  const [name, setName] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const check = useFormCheck(
    PROJECT_NAME.test(name)
      ? null
      : "Lower-case letters, digits, _ and - (starting with a letter or digit, 64 at most)",
  );
  // The user's roles live in /auth/me too (the runs filter, the New-run form read them there).
  const refresh = () => {
    void client.invalidateQueries({ queryKey: settingsKeys.projects });
    void session.refresh();
  };

  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/projects", { body: { name } })),
    onSuccess: () => {
      setName("");
      check.sent();
      refresh();
    },
  });
  const remove = useMutation({
    mutationFn: async (project: string) =>
      unwrap(await api.DELETE("/api/v1/projects/{name}", { params: { path: { name: project } } })),
    onSuccess: refresh,
  });

  const submit = (event: FormEvent) => {
    if (check.submitted(event)) create.mutate();
  };

  return (
    <section className="settings-section" id="projects" data-testid="settings-projects">
      <h2>Projects</h2>
      <p className="muted">
        Runs belong to a project. Viewers see its runs, editors also submit and cancel them,
        owners also manage who is in it.
      </p>
      <form className="settings-form" onSubmit={submit} noValidate>
        <TextField
          label="New project"
          testId="project-name"
          placeholder="e.g. lab-a"
          value={name}
          onChange={(value) => setName(value.toLowerCase())}
        />
        <button type="submit" className="primary" data-testid="project-create" disabled={create.isPending}>
          Create project
        </button>
      </form>
      <ErrorAlert testId="project-error" error={check.shown ?? create.error} />

      {projects.isError && (
        <p className="error">Could not load your projects: {projects.error.message}</p>
      )}
      {projects.data && projects.data.length === 0 && (
        <p className="empty">You are in no project yet: create one, or ask an owner to add you.</p>
      )}
      {projects.data && projects.data.length > 0 && (
        <div className="table-scroll">
          <table data-testid="projects-table">
            <thead>
              <tr>
                <th>Project</th>
                <th>Your role</th>
                <th>Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {projects.data.map((project) => {
                const owner = project.role === "owner";
                const expanded = open === project.name;
                return (
                  <Fragment key={project.name}>
                    <tr data-testid="project-row" data-project={project.name}>
                      <td>{project.name}</td>
                      <td data-testid="project-role">{project.role}</td>
                      <td>{formatDateTime(project.created_at)}</td>
                      <td>
                        <div className="row-actions">
                          {owner && (
                            <button
                              type="button"
                              data-testid="project-members-toggle"
                              aria-expanded={expanded}
                              onClick={() => setOpen(expanded ? null : project.name)}
                            >
                              {expanded ? "Hide members" : "Members"}
                            </button>
                          )}
                          {owner && (
                            <ConfirmButton
                              testId="project-delete"
                              label="Delete"
                              question="Delete the project and all its runs?"
                              confirmLabel="Delete project"
                              disabled={remove.isPending}
                              onConfirm={() => remove.mutate(project.name)}
                            />
                          )}
                        </div>
                      </td>
                    </tr>
                    {expanded && (
                      <tr className="members-row">
                        <td colSpan={4}>
                          <MembersPanel project={project.name} onOwnRoleChange={refresh} />
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <ErrorAlert prefix="Could not delete the project: " error={remove.error} />
    </section>
  );
}

interface MembersProps {
  project: string;
  /** The user changed or removed their own membership: their roles must be read again. */
  onOwnRoleChange: () => void;
}

/** A project's members, for its owners: add someone by name, change a role, remove. */
function MembersPanel({ project, onOwnRoleChange }: MembersProps) {
  const me = useMe();
  const client = useQueryClient();
  const members = useMembers(project);
  const [user, setUser] = useState("");
  const [role, setRole] = useState<Role>("viewer");

  const afterChange = (changed: string) => {
    void client.invalidateQueries({ queryKey: settingsKeys.members(project) });
    if (changed === me.user.name) onOwnRoleChange();
  };
  const setMember = useMutation({
    mutationFn: async (change: { user: string; role: Role }) =>
      unwrap(
        await api.PUT("/api/v1/projects/{name}/members/{user}", {
          params: { path: { name: project, user: change.user } },
          body: { role: change.role },
        }),
      ),
    onSuccess: (member) => {
      if (member.user === user.trim()) setUser("");
      afterChange(member.user);
    },
  });
  const removeMember = useMutation({
    mutationFn: async (member: string) => {
      unwrap(
        await api.DELETE("/api/v1/projects/{name}/members/{user}", {
          params: { path: { name: project, user: member } },
        }),
      );
      return member;
    },
    onSuccess: afterChange,
  });

  const add = (event: FormEvent) => {
    event.preventDefault();
    if (user.trim()) setMember.mutate({ user: user.trim(), role });
  };

  return (
    <div className="members-panel" data-testid="project-members" data-project={project}>
      {members.isError && <p className="error">Could not load the members: {members.error.message}</p>}
      {members.data && (
        <table className="members-table">
          <tbody>
            {members.data.map((member) => (
              <tr key={member.user} data-testid="member-row" data-user={member.user}>
                <td>
                  {member.user}
                  {member.user === me.user.name && <span className="muted"> (you)</span>}
                </td>
                <td>
                  <select
                    data-testid="member-role"
                    aria-label={`Role of ${member.user}`}
                    value={member.role}
                    disabled={setMember.isPending}
                    onChange={(e) => setMember.mutate({ user: member.user, role: asRole(e.target.value) })}
                  >
                    {ROLE_OPTIONS}
                  </select>
                </td>
                <td>
                  <ConfirmButton
                    testId="member-remove"
                    label="Remove"
                    question={`Remove ${member.user}?`}
                    confirmLabel="Remove"
                    disabled={removeMember.isPending}
                    onConfirm={() => removeMember.mutate(member.user)}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="settings-form" onSubmit={add}>
        <TextField
          label="Add a person by user name"
          testId="member-add-name"
          value={user}
          placeholder="user name"
          onChange={setUser}
        />
        <label>
          Role
          <select data-testid="member-add-role" value={role} onChange={(e) => setRole(asRole(e.target.value))}>
            {ROLE_OPTIONS}
          </select>
        </label>
        <button type="submit" data-testid="member-add" disabled={!user.trim() || setMember.isPending}>
          Add member
        </button>
      </form>
      <ErrorAlert testId="member-error" error={setMember.error ?? removeMember.error} />
    </div>
  );
}
