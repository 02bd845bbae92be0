// Uploaded datasets (POST/GET/DELETE /api/v1/datasets): aliases of the schemas generated from
// the backend's OpenAPI document (schema.d.ts, `npm run gen:api`), and the one place where the
// upload's multipart body is built.
import type { Schemas } from "./client";
import type { paths } from "./schema";

export type DatasetRead = Schemas["DatasetRead"];
export type DatasetShapes = Schemas["DatasetShapes"];
export type DatasetList = Schemas["DatasetList"];

/** The upload's parts as the schema declares them (`file` is binary, typed as a string). */
export type DatasetUploadParts =
  paths["/api/v1/datasets"]["post"]["requestBody"]["content"]["multipart/form-data"];

/**
 * The multipart body of an upload: `file`, and `name` and `project` where given. It is sent as
 * FormData, which the client passes through untouched (the browser writes the boundary); the
 * cast to the schema's parts is that boundary's one.
 */
export function uploadBody(parts: {
  file: File;
  name?: string;
  project?: string;
}): DatasetUploadParts {
  const form = new FormData();
  form.append("file", parts.file, parts.file.name);
  if (parts.name) form.append("name", parts.name);
  if (parts.project) form.append("project", parts.project);
  return form as unknown as DatasetUploadParts;
}
