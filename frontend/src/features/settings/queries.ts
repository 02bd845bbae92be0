// The settings page's server state, keyed under ["settings"]; mutations invalidate the list they
// changed (and /auth/me where the user's own projects or roles change).
import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "../../api/client";

export const settingsKeys = {
  keys: ["settings", "keys"] as const,
  sessions: ["settings", "sessions"] as const,
  projects: ["settings", "projects"] as const,
  members: (project: string) => ["settings", "members", project] as const,
  users: ["settings", "users"] as const,
};

export function useKeys() {
  return useQuery({
    queryKey: settingsKeys.keys,
    queryFn: async () => unwrap(await api.GET("/api/v1/keys")),
  });
}

export function useSessions() {
  return useQuery({
    queryKey: settingsKeys.sessions,
    queryFn: async () => unwrap(await api.GET("/api/v1/auth/sessions")),
  });
}

export function useProjects() {
  return useQuery({
    queryKey: settingsKeys.projects,
    queryFn: async () => unwrap(await api.GET("/api/v1/projects")),
  });
}

export function useMembers(project: string) {
  return useQuery({
    queryKey: settingsKeys.members(project),
    queryFn: async () =>
      unwrap(await api.GET("/api/v1/projects/{name}/members", { params: { path: { name: project } } })),
  });
}

export function useUsers() {
  return useQuery({
    queryKey: settingsKeys.users,
    queryFn: async () => unwrap(await api.GET("/api/v1/users")),
  });
}
