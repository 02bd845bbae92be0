import "./app.css";

import { NavLink, Navigate, Route, Routes } from "react-router";

import { ComparePage } from "../features/compare/ComparePage";
import { NewRunPage } from "../features/new-run/NewRunPage";
import { RunPage } from "../features/run/RunPage";
import { RunsPage } from "../features/runs/RunsPage";
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
        <nav className="app-nav">
          <NavLink to="/runs" end>
            Runs
          </NavLink>
          <NavLink to="/runs/new">New run</NavLink>
          <NavLink to="/compare">Compare</NavLink>
        </nav>
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
        <Routes>
          <Route path="/" element={<Navigate to="/runs" replace />} />
          <Route path="/runs" element={<RunsPage />} />
          <Route path="/runs/new" element={<NewRunPage />} />
          <Route path="/runs/:runId" element={<RunPage />} />
          <Route path="/compare" element={<ComparePage />} />
          <Route path="*" element={<NotFoundPage />} />
        </Routes>
      </main>
    </div>
  );
}
