// What the signed-in user may do where: the roles GET /auth/me lists per project. The server
// decides every request; these only keep the UI from offering what it would refuse.
import type { Schemas } from "../api/client";

export type Me = Schemas["Me"];
export type Role = Schemas["ProjectRole"]["role"];

export const ROLES: readonly Role[] = ["viewer", "editor", "owner"];
/** The project a run goes to when the user may submit there (the server's default too). */
export const DEFAULT_PROJECT = "default";
/** The API's project names (PROJECT_NAME_PATTERN): anything else it answers with a 422. */
export const PROJECT_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const RANK: Record<Role, number> = { viewer: 1, editor: 2, owner: 3 };

/** Whether `role` includes everything `need` may do (an owner is also an editor). */
export function includes(role: Role | null, need: Role): boolean {
  return role !== null && RANK[role] >= RANK[need];
}

/** The user's role in `project`, or null when they are not in it. */
export function roleIn(me: Pick<Me, "projects">, project: string): Role | null {
  return me.projects.find((p) => p.name === project)?.role ?? null;
}

/** May submit and cancel runs in `project`. */
export function canEdit(me: Pick<Me, "projects">, project: string): boolean {
  return includes(roleIn(me, project), "editor");
}

/** The projects where the user may submit runs, in the order /auth/me lists them. */
export function editableProjects(me: Pick<Me, "projects">): string[] {
  return me.projects.filter((p) => includes(p.role, "editor")).map((p) => p.name);
}

/** Where the New-run form starts: 'default' if the user may submit there, else their first
 * such project; null when they may submit nowhere. */
export function defaultProject(me: Pick<Me, "projects">): string | null {
  const editable = editableProjects(me);
  return editable.includes(DEFAULT_PROJECT) ? DEFAULT_PROJECT : (editable[0] ?? null);
}
