// The datasets of a project, and what changes them (an upload, a deletion). The New-run form
// reads the same list for its custom-benchmark dataset select.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, unwrap } from "../../api/client";
import { type DatasetRead, uploadBody } from "../../api/datasets";

export const DATASETS_QUERY_KEY = "datasets";

export const datasetKeys = {
  list: (project: string) => [DATASETS_QUERY_KEY, "list", project] as const,
};

/** The project's uploads, newest first; nothing is asked while `project` is null. */
export function useDatasets(project: string | null) {
  return useQuery({
    queryKey: datasetKeys.list(project ?? ""),
    enabled: project !== null,
    queryFn: async (): Promise<DatasetRead[]> =>
      unwrap(
        await api.GET("/api/v1/datasets", {
          params: { query: { project: project ?? undefined } },
        }),
      ).datasets,
  });
}

export interface UploadInput {
  file: File;
  /** Empty: the server names it after the file. */
  name: string;
  project: string;
}

/** POST /api/v1/datasets as a multipart form; the list is asked for again afterwards. */
export function useUploadDataset() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async ({ file, name, project }: UploadInput): Promise<DatasetRead> => {
      const body = uploadBody({ file, name, project });
      return unwrap(await api.POST("/api/v1/datasets", { body }));
    },
    onSuccess: () => void client.invalidateQueries({ queryKey: [DATASETS_QUERY_KEY] }),
  });
}

/** DELETE /api/v1/datasets/{id} (refused with a 409 while a queued or running run uses it). */
export function useDeleteDataset() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (id: number) =>
      unwrap(
        await api.DELETE("/api/v1/datasets/{dataset_id}", {
          params: { path: { dataset_id: id } },
        }),
      ),
    onSuccess: () => void client.invalidateQueries({ queryKey: [DATASETS_QUERY_KEY] }),
  });
}
