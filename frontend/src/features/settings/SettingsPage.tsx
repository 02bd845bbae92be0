// /settings — the signed-in user's API keys, sessions, password and projects; for
// administrators also the users.
import "./settings.css";

import { useMe } from "../../auth/session";
import { KeysSection } from "./KeysSection";
import { PasswordSection } from "./PasswordSection";
import { ProjectsSection } from "./ProjectsSection";
import { SessionsSection } from "./SessionsSection";
import { UsersSection } from "./UsersSection";

export function SettingsPage() {
  const me = useMe();
  const sections = [
    ["keys", "API keys"],
    ["sessions", "Sessions"],
    ["password", "Password"],
    ["projects", "Projects"],
    ...(me.user.is_admin ? [["users", "Users"]] : []),
  ];
  return (
    <div className="settings-page" data-testid="settings-page">
      <div className="page-header">
        <h1>Settings</h1>
        <nav className="settings-toc" aria-label="Sections">
          {sections.map(([id, title]) => (
            <a key={id} href={`#${id}`}>
              {title}
            </a>
          ))}
        </nav>
      </div>
      <p className="muted">
        Signed in as <strong>{me.user.name}</strong>
        {me.user.is_admin ? ", an administrator" : ""}.
      </p>
      <KeysSection />
      <SessionsSection />
      <PasswordSection />
      <ProjectsSection />
      {me.user.is_admin && <UsersSection />}
    </div>
  );
}
