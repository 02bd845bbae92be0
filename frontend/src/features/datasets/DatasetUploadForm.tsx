// The upload form of the Datasets page: a file (.npz or .pt) and an optional name, sent as a
// multipart POST /api/v1/datasets to the page's project. What the server refuses shows under
// the field it is about (a 413 or bad arrays under the file, a taken name under the name).
import { type FormEvent, useRef, useState } from "react";
import { Link } from "react-router";

import type { DatasetRead } from "../../api/datasets";
import { formatCount } from "../../components/format";
import { FormField } from "../../components/FormField";
import type { SubmitProblems } from "../new-run/submitErrors";
import {
  checkUpload,
  classesText,
  DATASET_NAME_RULE,
  featureShapeText,
  newRunWithDataset,
  shortDigest,
  UPLOAD_EXTENSIONS,
  uploadProblems,
} from "./datasetModel";
import { useUploadDataset } from "./queries";

type UploadField = "file" | "name";

const NO_PROBLEMS: SubmitProblems = { fieldErrors: {}, formErrors: [] };

export function DatasetUploadForm({ project }: { readonly project: string }) {
  const upload = useUploadDataset();
  const fileInput = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState("");
  /** What the pre-send check refused at the last submit (nothing was sent then), and the
   * fields edited since, whose complaints no longer apply. */
  const [refused, setRefused] = useState<SubmitProblems | null>(null);
  const [edited, setEdited] = useState<ReadonlySet<UploadField>>(new Set());

  const reported = refused ?? (upload.error ? uploadProblems(upload.error) : NO_PROBLEMS);
  const fieldProblem = (field: UploadField) =>
    edited.has(field) ? undefined : reported.fieldErrors[field];
  const problems = {
    file: fieldProblem("file"),
    name: fieldProblem("name"),
    form: reported.formErrors,
  };
  const uploaded = upload.data;
  const markEdited = (field: UploadField) =>
    setEdited((current) => (current.has(field) ? current : new Set(current).add(field)));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    upload.reset();
    setEdited(new Set());
    const checked = checkUpload(file, name);
    setRefused(checked);
    if (checked || file === null) return;
    upload.mutate(
      { file, name, project },
      {
        onSuccess: () => {
          setFile(null);
          setName("");
          if (fileInput.current) fileInput.current.value = "";
        },
      },
    );
  };

  return (
    <section className="dataset-upload" aria-labelledby="dataset-upload-title">
      <h2 id="dataset-upload-title">Upload to {project}</h2>
      <form className="dataset-upload-form" onSubmit={submit} noValidate>
        <FormField
          id="dataset-file"
          label="File"
          help=".npz with x_train, y_train, x_test, y_test (or a .pt dict of them)"
          error={problems.file}
          errorTestId="upload-error-file"
        >
          <input
            id="dataset-file"
            ref={fileInput}
            type="file"
            data-testid="dataset-file"
            accept={UPLOAD_EXTENSIONS.join(",")}
            aria-invalid={problems.file ? true : undefined}
            aria-describedby={problems.file ? "dataset-file-error" : "dataset-file-help"}
            onChange={(e) => {
              setFile(e.target.files?.[0] ?? null);
              markEdited("file");
            }}
          />
        </FormField>
        <FormField
          id="dataset-name"
          label="Name (optional)"
          help={`${DATASET_NAME_RULE}; unique in the project.`}
          error={problems.name}
          errorTestId="upload-error-name"
        >
          <input
            id="dataset-name"
            type="text"
            data-testid="dataset-name"
            autoComplete="off"
            spellCheck={false}
            placeholder="from the file name"
            value={name}
            aria-invalid={problems.name ? true : undefined}
            aria-describedby={problems.name ? "dataset-name-error" : "dataset-name-help"}
            onChange={(e) => {
              setName(e.target.value);
              markEdited("name");
            }}
          />
        </FormField>
        <button
          type="submit"
          className="primary"
          data-testid="dataset-upload"
          disabled={upload.isPending}
        >
          {upload.isPending ? "Uploading…" : "Upload"}
        </button>
      </form>
      {problems.form.length > 0 && (
        <div className="form-error" data-testid="upload-error" role="alert">
          {problems.form.map((message, i) => (
            <div key={i}>{message}</div>
          ))}
        </div>
      )}
      {uploaded && <UploadResult dataset={uploaded} />}
    </section>
  );
}

function UploadResult({ dataset }: { readonly dataset: DatasetRead }) {
  return (
    <div className="dataset-upload-result" data-testid="upload-result" role="status">
      <strong>
        Uploaded {dataset.name} (id {dataset.id})
      </strong>
      : {formatCount(dataset.n_train)} training and {formatCount(dataset.n_test)} test samples of shape{" "}
      {featureShapeText(dataset.shapes)}, classes {classesText(dataset.classes)}, digest{" "}
      <code title={dataset.digest}>{shortDigest(dataset.digest)}</code>.{" "}
      <Link to={newRunWithDataset(dataset)} data-testid="upload-result-new-run">
        Use it in a new run
      </Link>
    </div>
  );
}
