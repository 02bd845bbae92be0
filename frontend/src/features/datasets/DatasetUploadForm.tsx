// The upload form of the Datasets page: a file (.npz or .pt) and an optional name, sent as a
// multipart POST /api/v1/datasets to the page's project. What the server refuses shows under
// the field it is about (a 413 or bad arrays under the file, a taken name under the name).
import { type FormEvent, useRef, useState } from "react";
import { Link } from "react-router";

import type { DatasetRead } from "../../api/datasets";
import {
  checkUpload,
  classesText,
  DATASET_NAME_RULE,
  featureShapeText,
  newRunWithDataset,
  shortDigest,
  UPLOAD_EXTENSIONS,
  type UploadProblems,
  uploadProblems,
} from "./datasetModel";
import { useUploadDataset } from "./queries";

const NO_PROBLEMS: UploadProblems = { form: [] };

export function DatasetUploadForm({ project }: { readonly project: string }) {
  const upload = useUploadDataset();
  const fileInput = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState("");
  const [problems, setProblems] = useState<UploadProblems>(NO_PROBLEMS);
  const [uploaded, setUploaded] = useState<DatasetRead | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setUploaded(null);
    const refused = checkUpload(file, name);
    setProblems(refused ?? NO_PROBLEMS);
    if (refused || file === null) return;
    upload.mutate(
      { file, name, project },
      {
        onSuccess: (dataset) => {
          setUploaded(dataset);
          setFile(null);
          setName("");
          if (fileInput.current) fileInput.current.value = "";
        },
        onError: (error) => setProblems(uploadProblems(error)),
      },
    );
  };

  return (
    <section className="dataset-upload" aria-labelledby="dataset-upload-title">
      <h2 id="dataset-upload-title">Upload to {project}</h2>
      <form className="dataset-upload-form" onSubmit={submit} noValidate>
        <div className={`form-field${problems.file ? " has-error" : ""}`}>
          <label htmlFor="dataset-file">File</label>
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
              setProblems((current) => ({ ...current, file: undefined }));
            }}
          />
          <div className="field-help" id="dataset-file-help">
            .npz with x_train, y_train, x_test, y_test (or a .pt dict of them)
          </div>
          {problems.file && (
            <div
              className="field-error"
              id="dataset-file-error"
              data-testid="upload-error-file"
              role="alert"
            >
              {problems.file}
            </div>
          )}
        </div>
        <div className={`form-field${problems.name ? " has-error" : ""}`}>
          <label htmlFor="dataset-name">Name (optional)</label>
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
              setProblems((current) => ({ ...current, name: undefined }));
            }}
          />
          <div className="field-help" id="dataset-name-help">
            {DATASET_NAME_RULE}; unique in the project.
          </div>
          {problems.name && (
            <div
              className="field-error"
              id="dataset-name-error"
              data-testid="upload-error-name"
              role="alert"
            >
              {problems.name}
            </div>
          )}
        </div>
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
      : {dataset.n_train.toLocaleString("en-US")} training and{" "}
      {dataset.n_test.toLocaleString("en-US")} test samples of shape{" "}
      {featureShapeText(dataset.shapes)}, classes {classesText(dataset.classes)}, digest{" "}
      <code title={dataset.digest}>{shortDigest(dataset.digest)}</code>.{" "}
      <Link to={newRunWithDataset(dataset)} data-testid="upload-result-new-run">
        Use it in a new run
      </Link>
    </div>
  );
}
