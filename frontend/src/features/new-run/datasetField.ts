// A custom benchmark names its dataset by id, an integer in the schema; the form offers it as a
// choice among the datasets uploaded to the run's project ("name · classes"), and leaves the
// benchmark's `digest` out: the API fills it in from the dataset at submission.
import type { DatasetRead } from "../../api/datasets";
import { datasetLabel } from "../datasets/datasetModel";
import type { FieldGroup } from "./schemaForm";

export const CUSTOM_BENCHMARK = "custom";
export const BENCHMARK_NAME_PATH = "benchmark.name";
export const DATASET_PATH = "benchmark.dataset";
export const DIGEST_PATH = "benchmark.digest";

/**
 * The form's groups for `benchmark`: for the custom benchmark, without the digest field and,
 * once the project's datasets are known, with the dataset field as a select of them (the
 * newest preselected). Other benchmarks' fields are left as the schema describes them.
 */
export function withDatasetChoice(
  groups: readonly FieldGroup[],
  benchmark: string,
  project: string | null,
  datasets: readonly Pick<DatasetRead, "id" | "name" | "classes">[] | undefined,
): FieldGroup[] {
  if (benchmark !== CUSTOM_BENCHMARK) return [...groups];
  return groups.map((group) => ({
    ...group,
    fields: group.fields
      .filter((field) => field.path !== DIGEST_PATH)
      .map((field) => {
        if (field.path !== DATASET_PATH || datasets === undefined) return field;
        return {
          ...field,
          kind: "enum" as const,
          options: datasets.map((d) => d.id),
          optionLabels: Object.fromEntries(datasets.map((d) => [String(d.id), datasetLabel(d)])),
          nullable: false,
          required: true,
          default: datasets[0]?.id,
          description:
            datasets.length > 0
              ? `A dataset uploaded to ${project ?? "the project"} (see the Datasets page).`
              : `${project ?? "The project"} has no uploaded datasets yet: upload one on the ` +
                "Datasets page, or with `gapwatch datasets upload FILE`.",
        };
      }),
  }));
}
