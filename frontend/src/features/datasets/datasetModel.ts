// The Datasets page's pure parts: how a dataset reads in a table and a select, the custom
// benchmark a "use in a new run" link starts from, and an upload's refusals placed under the
// form field they are about.
import { ApiError, apiErrorText, detailSentence, validationErrors } from "../../api/client";
import type { DatasetRead, DatasetShapes } from "../../api/datasets";
import { newRunHref } from "../new-run/linkedSpec";
import { placeValidationErrors, type SubmitProblems } from "../new-run/submitErrors";

/** The API's dataset names (the upload's `name` part): anything else it answers with a 422. */
export const DATASET_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
export const DATASET_NAME_RULE =
  "Lower-case letters, digits, _, . and - (starting with a letter or digit, 64 at most)";
/** The file types the server reads: an .npz of the four arrays, or a torch.save'd dict. */
export const UPLOAD_EXTENSIONS = [".npz", ".pt"] as const;

const DIGEST_SHOWN = 12;
const CLASSES_SHOWN = 8;

/** The first characters of a digest, enough to tell datasets apart on a screen. */
export function shortDigest(digest: string): string {
  return digest.length > DIGEST_SHOWN ? `${digest.slice(0, DIGEST_SHOWN)}…` : digest;
}

/** "0–9" for consecutive labels, "0–2, 5, 7–9" otherwise; long lists end with "… (N)". */
export function classesText(classes: readonly number[]): string {
  const sorted = [...classes].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j += 1;
    runs.push(j > i ? `${sorted[i]}–${sorted[j]}` : String(sorted[i]));
    i = j + 1;
  }
  if (runs.length === 0) return "none";
  if (runs.length <= CLASSES_SHOWN) return runs.join(", ");
  return `${runs.slice(0, CLASSES_SHOWN).join(", ")}, … (${sorted.length} classes)`;
}

/** What a dataset select shows: "digits · classes 0–9". */
export function datasetLabel(dataset: Pick<DatasetRead, "name" | "classes">): string {
  return `${dataset.name} · classes ${classesText(dataset.classes)}`;
}

/** One sample's shape: x_train's shape without its first (sample) axis, e.g. "28 × 28". */
export function featureShapeText(shapes: DatasetShapes): string {
  const features = shapes.x_train.slice(1);
  return features.length === 0 ? "scalar" : features.join(" × ");
}

/** The four arrays' shapes, one per line: "x_train [1000, 8, 8]". */
export function shapesTitle(shapes: DatasetShapes): string {
  return (Object.keys(shapes) as (keyof DatasetShapes)[])
    .map((name) => `${name} [${shapes[name].join(", ")}]`)
    .join("\n");
}

/** The classes in tasks for a first run: pairs (an odd one out joins the last task), one class
 * per task when there are only 2 or 3; null when there are fewer than 2 classes to split. */
export function classTasks(classes: readonly number[]): number[][] | null {
  const sorted = [...new Set(classes)].sort((a, b) => a - b);
  if (sorted.length < 2) return null;
  if (sorted.length < 4) return sorted.map((c) => [c]);
  const tasks: number[][] = [];
  for (let i = 0; i + 1 < sorted.length; i += 2) tasks.push([sorted[i]!, sorted[i + 1]!]);
  if (sorted.length % 2 === 1) tasks[tasks.length - 1]!.push(sorted[sorted.length - 1]!);
  return tasks;
}

/**
 * The custom benchmark a new run over `dataset` starts from: class-incremental tasks of two
 * classes each (Split-MNIST's shape), or, for a dataset of one class, 5 permuted copies in the
 * domain-incremental scenario. The digest is the API's to fill in.
 */
export function customBenchmarkFor(dataset: Pick<DatasetRead, "id" | "classes">): {
  name: "custom";
  dataset: number;
  split: Record<string, unknown>;
  scenario: string;
} {
  const tasks = classTasks(dataset.classes);
  return tasks
    ? {
        name: "custom",
        dataset: dataset.id,
        split: { kind: "classes", tasks },
        scenario: "class_incremental",
      }
    : {
        name: "custom",
        dataset: dataset.id,
        split: { kind: "permutations", n_tasks: 5 },
        scenario: "domain_incremental",
      };
}

/** The New-run form with the dataset's custom benchmark, in the dataset's project. */
export function newRunWithDataset(dataset: Pick<DatasetRead, "id" | "classes" | "project">) {
  return newRunHref({ project: dataset.project, benchmark: customBenchmarkFor(dataset) });
}

// --- Uploads -------------------------------------------------------------------------------

/** The upload form's fields that a refusal can be about; the rest is said above the form. */
const UPLOAD_FIELDS = new Set(["file", "name"]);

/** What the form refuses before sending anything (under `fieldErrors.file` and
 * `fieldErrors.name`); null when it may be sent. */
export function checkUpload(
  file: Pick<File, "name" | "size"> | null,
  name: string,
): SubmitProblems | null {
  const fieldErrors: SubmitProblems["fieldErrors"] = {};
  if (file === null) {
    fieldErrors.file = "Choose a .npz or .pt file";
  } else if (!UPLOAD_EXTENSIONS.some((ext) => file.name.toLowerCase().endsWith(ext))) {
    fieldErrors.file =
      "Only .npz (x_train, y_train, x_test, y_test) or .pt (a torch.save'd dict of them) files";
  } else if (file.size === 0) {
    fieldErrors.file = "The file is empty";
  }
  if (name !== "" && !DATASET_NAME.test(name)) fieldErrors.name = DATASET_NAME_RULE;
  return fieldErrors.file || fieldErrors.name ? { fieldErrors, formErrors: [] } : null;
}

/**
 * A refused upload's reasons under the fields they name: a 413 and a 422 about `file` under the
 * file, a 409 (the name is taken) and a 422 about `name` under the name; the rest above.
 */
export function uploadProblems(error: unknown): SubmitProblems {
  if (!(error instanceof ApiError)) return { fieldErrors: {}, formErrors: [apiErrorText(error)] };
  if (error.status === 413) {
    const file =
      detailSentence(error.body) ?? "The file is larger than the server accepts (HTTP 413)";
    return { fieldErrors: { file }, formErrors: [] };
  }
  if (error.status === 409) {
    const name = detailSentence(error.body) ?? "The project already has a dataset of that name";
    return { fieldErrors: { name }, formErrors: [] };
  }
  const details = error.status === 422 ? validationErrors(error.body) : null;
  if (!details) return { fieldErrors: {}, formErrors: [apiErrorText(error)] };
  return placeValidationErrors(
    details,
    (loc) => {
      const field = String(loc.filter((part) => part !== "body")[0]);
      return UPLOAD_FIELDS.has(field) ? field : null;
    },
    { repeated: "joined" },
  );
}
