import "./app.css";

import { useMutation } from "@tanstack/react-query";
import { NavLink, Navigate, Route, Routes } from "react-router";

import { api, unwrap } from "../api/client";
import { SIGN_IN_PATH } from "../auth/nextPath";
import type { Me } from "../auth/roles";
import { RequireSession, SessionGate, useMaybeMe } from "../auth/session";
import { ComparePage } from "../features/compare/ComparePage";
import { DatasetsPage } from "../features/datasets/DatasetsPage";
import { NewRunPage } from "../features/new-run/NewRunPage";
import { RunPage } from "../features/run/RunPage";
import { RunsPage } from "../features/runs/RunsPage";
import { SettingsPage } from "../features/settings/SettingsPage";
import { SignInPage } from "../features/sign-in/SignInPage";
import { SweepPage } from "../features/sweeps/SweepPage";
import { SweepsPage } from "../features/sweeps/SweepsPage";
import { NotFoundPage } from "./NotFoundPage";
import { useTheme } from "./theme";

export function App() {
  const [theme, setTheme] = useTheme();

  return (
    <div className="app">
      <header className="app-header">
        <NavLink to="/runs" className="brand">
          Gapwatch
        </NavLink>
        <AppNav />
        <button
          type="button"
          className="theme-toggle"
          data-testid="theme-toggle"
          aria-label={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}
          onClick={() => setTheme(theme === "dark" ? "light" : "dark")}
        >
          {theme === "dark" ? "Light" : "Dark"} theme
        </button>
      </header>
      <main className="app-main">
        <SessionGate>
          <Routes>
            <Route path={SIGN_IN_PATH} element={<SignInPage />} />
            <Route element={<RequireSession />}>
              <Route path="/" element={<Navigate to="/runs" replace />} />
              <Route path="/runs" element={<RunsPage />} />
              <Route path="/runs/new" element={<NewRunPage />} />
              <Route path="/runs/:runId" element={<RunPage />} />
              <Route path="/compare" element={<ComparePage />} />
              <Route path="/sweeps" element={<SweepsPage />} />
              <Route path="/sweeps/:sweepId" element={<SweepPage />} />
              <Route path="/datasets" element={<DatasetsPage />} />
              <Route path="/settings" element={<SettingsPage />} />
              <Route path="*" element={<NotFoundPage />} />
            </Route>
          </Routes>
        </SessionGate>
      </main>
    </div>
  );
}

/** The pages and the user's corner; nothing but the brand while signed out. */
function AppNav() {
  const me = useMaybeMe();
  if (!me) return <div className="app-nav" />;
  return (
    <>
      <nav className="app-nav">
        <NavLink to="/runs" end>
          Runs
        </NavLink>
        <NavLink to="/runs/new">New run</NavLink>
        <NavLink to="/compare">Compare</NavLink>
        <NavLink to="/sweeps" data-testid="nav-sweeps">
          Sweeps
        </NavLink>
        <NavLink to="/datasets" data-testid="nav-datasets">
          Datasets
        </NavLink>
      </nav>
      <UserMenu me={me} />
    </>
  );
}

function UserMenu({ me }: { readonly me: Me }) {
  const signOut = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/auth/sign-out")),
    // A fresh page load: nothing the user's pages cached stays in memory. Signed out either
    // way: a failure here means the session had already ended.
    onSettled: () => window.location.assign(SIGN_IN_PATH),
  });
  return (
    <div className="user-menu">
      <span className="current-user" data-testid="current-user" title="Signed in as">
        {me.user.name}
        {me.user.is_admin && <span className="admin-badge">admin</span>}
      </span>
      <NavLink to="/settings" data-testid="nav-settings">
        Settings
      </NavLink>
      <button
        type="button"
        data-testid="sign-out"
        disabled={signOut.isPending}
        onClick={() => signOut.mutate()}
      >
        Sign out
      </button>
    </div>
  );
}
