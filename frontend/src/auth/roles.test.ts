import { describe, expect, it } from "vitest";

import { canEdit, defaultProject, editableProjects, includes, roleIn } from "./roles";

const me = {
  projects: [
    { name: "lab-a", role: "viewer" as const },
    { name: "lab-b", role: "editor" as const },
    { name: "default", role: "owner" as const },
  ],
};

describe("roles", () => {
  it("rank viewer < editor < owner", () => {
    expect(includes("owner", "editor")).toBe(true);
    expect(includes("editor", "editor")).toBe(true);
    expect(includes("viewer", "editor")).toBe(false);
    expect(includes(null, "viewer")).toBe(false);
  });

  it("say what the user may do in each project", () => {
    expect(roleIn(me, "lab-a")).toBe("viewer");
    expect(roleIn(me, "elsewhere")).toBeNull();
    expect(canEdit(me, "lab-a")).toBe(false);
    expect(canEdit(me, "lab-b")).toBe(true);
    expect(canEdit(me, "default")).toBe(true);
    expect(canEdit(me, "elsewhere")).toBe(false);
  });

  it("start the New-run form in 'default' where allowed, else the first editable project", () => {
    expect(editableProjects(me)).toEqual(["lab-b", "default"]);
    expect(defaultProject(me)).toBe("default");
    const notInDefault = { projects: [me.projects[0]!, me.projects[1]!] };
    expect(defaultProject(notInDefault)).toBe("lab-b");
    const viewerOfDefault = {
      projects: [{ name: "default", role: "viewer" as const }, { name: "z", role: "editor" as const }],
    };
    expect(defaultProject(viewerOfDefault)).toBe("z");
    expect(defaultProject({ projects: [me.projects[0]!] })).toBeNull();
  });
});
