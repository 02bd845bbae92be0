// The signed-in user for the whole dashboard: ONE GET /auth/me when the app starts (again only
// after signing in, or when the user's projects change). While it answers 401 every page but
// /sign-in sends the user there, and so does a 401 from any later call (sessionMiddleware).
import { type QueryClient, queryOptions, useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, type ReactNode, useContext } from "react";
import { Navigate, Outlet, useLocation } from "react-router";

import { api, unwrap } from "../api/client";
import { signInHref } from "./nextPath";
import type { Me } from "./roles";
import { sessionMiddleware } from "./sessionMiddleware";

/** The signed-in user, or null while signed out (a 401 is an answer here, not an error). */
export const meQuery = queryOptions({
  queryKey: ["auth", "me"],
  queryFn: async (): Promise<Me | null> => {
    const result = await api.GET("/api/v1/auth/me");
    return result.response.status === 401 ? null : unwrap(result);
  },
  staleTime: Infinity,
});

/** Wires the API client to the session held in `client`'s cache; once, at start. Returns
 * what undoes it (for tests). */
export function installSession(client: QueryClient): () => void {
  const middleware = sessionMiddleware({
    csrfToken: () => client.getQueryData(meQuery.queryKey)?.csrf_token ?? null,
    onUnauthorized: () => client.setQueryData(meQuery.queryKey, null),
  });
  api.use(middleware);
  return () => api.eject(middleware);
}

/** Renders the app once /auth/me has answered (signed in or not). */
export function SessionGate({ children }: { readonly children: ReactNode }) {
  const me = useQuery(meQuery);
  if (me.isPending) return <p className="muted session-status">Loading…</p>;
  if (me.isError) {
    return (
      <p className="error session-status" data-testid="session-error">
        Could not reach the server: {me.error.message}{" "}
        <button type="button" onClick={() => void me.refetch()}>
          Try again
        </button>
      </p>
    );
  }
  return children;
}

/** The signed-in user, or null; for what shows either way (the header, the sign-in page). */
export function useMaybeMe(): Me | null {
  return useQuery(meQuery).data ?? null;
}

const MeContext = createContext<Me | null>(null);

/** The routes that need a sign-in: the user's pages, or the sign-in page coming back here. */
export function RequireSession() {
  const me = useMaybeMe();
  const location = useLocation();
  if (!me) return <Navigate to={signInHref(location)} replace />;
  return (
    <MeContext.Provider value={me}>
      <Outlet />
    </MeContext.Provider>
  );
}

/** The signed-in user, in a page under RequireSession. */
export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error("useMe() is for pages under RequireSession");
  return me;
}

/** What changes the session: signing in (either way) and out. */
export function useSessionActions() {
  const client = useQueryClient();
  return {
    /** After a sign-in answered: forget whatever the previous user's pages cached, and read
     * the new user's roles (the sign-in answer has no projects). */
    signedIn: async (): Promise<Me | null> => {
      client.removeQueries({ predicate: (q) => q.queryKey[0] !== meQuery.queryKey[0] });
      return client.fetchQuery({ ...meQuery, staleTime: 0 });
    },
    /** The user's projects or roles changed: read /auth/me again. */
    refresh: () => client.invalidateQueries({ queryKey: meQuery.queryKey }),
  };
}
