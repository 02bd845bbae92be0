import { describe, expect, it } from "vitest";

import { uploadBody } from "./datasets";

describe("the upload's multipart body", () => {
  it("holds the file under its own name, and the name and project only where given", () => {
    const file = new File([new Uint8Array([1, 2, 3])], "blobs.npz");
    const full = uploadBody({ file, name: "blobs", project: "lab-a" }) as unknown as FormData;
    expect((full.get("file") as File).name).toBe("blobs.npz");
    expect((full.get("file") as File).size).toBe(3);
    expect(full.get("name")).toBe("blobs");
    expect(full.get("project")).toBe("lab-a");
    const bare = uploadBody({ file, name: "" }) as unknown as FormData;
    expect([...bare.keys()]).toEqual(["file"]);
  });
});
