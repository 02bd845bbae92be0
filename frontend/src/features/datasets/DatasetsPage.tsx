// /datasets — the arrays uploaded to a project, for custom benchmarks: what each holds (shapes,
// classes, sizes, its content digest), an upload form, deletion, and a link that starts a new
// run over one. Uploads are also made with `gapwatch datasets upload FILE`.
import "../new-run/new-run.css";
import "../runs/runs.css";
import "./datasets.css";

import { useMemo } from "react";
import { Link, useSearchParams } from "react-router";

import type { DatasetRead } from "../../api/datasets";
import { canEdit, defaultProject } from "../../auth/roles";
import { useMe } from "../../auth/session";
import { ConfirmButton } from "../../components/ConfirmButton";
import { CopyButton } from "../../components/CopyButton";
import { formatBytes, formatCount, formatWhen } from "../../components/format";
import { useNow } from "../../components/useNow";
import { ErrorAlert } from "../settings/formParts";
import {
  classesText,
  featureShapeText,
  newRunWithDataset,
  shapesTitle,
  shortDigest,
} from "./datasetModel";
import { DatasetUploadForm } from "./DatasetUploadForm";
import { useDatasets, useDeleteDataset } from "./queries";

const PROJECT_PARAM = "project";

export function DatasetsPage() {
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const projects = useMemo(() => me.projects.map((p) => p.name), [me.projects]);
  const asked = params.get(PROJECT_PARAM);
  const project =
    asked !== null && projects.includes(asked)
      ? asked
      : (defaultProject(me) ?? projects[0] ?? null);
  const mayEdit = project !== null && canEdit(me, project);
  const datasets = useDatasets(project);
  const remove = useDeleteDataset();
  const now = useNow(30_000);

  return (
    <div className="datasets-page">
      <div className="page-header">
        <h1>Datasets</h1>
        {projects.length > 0 && (
          <label className="datasets-project">
            Project
            <select
              data-testid="datasets-project"
              value={project ?? ""}
              onChange={(e) => {
                setParams(new URLSearchParams({ [PROJECT_PARAM]: e.target.value }));
                remove.reset();
              }}
            >
              {projects.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>

      {project === null && (
        <p className="empty">You are in no project yet: datasets belong to a project.</p>
      )}
      {project !== null && mayEdit && <DatasetUploadForm key={project} project={project} />}
      {project !== null && !mayEdit && (
        <p className="muted" data-testid="datasets-read-only">
          You are a viewer in {project}: uploading and deleting datasets needs the editor role.
        </p>
      )}

      <ErrorAlert testId="dataset-delete-error" prefix="Not deleted: " error={remove.error} />
      {datasets.isError && (
        <p className="error">Could not load the datasets: {datasets.error.message}</p>
      )}
      {datasets.isPending && project !== null && <p className="muted">Loading datasets…</p>}
      {datasets.data && datasets.data.length === 0 && <DatasetsEmpty project={project!} />}
      {datasets.data && datasets.data.length > 0 && (
        <div className="table-scroll">
          <table className="datasets-table" data-testid="datasets-table">
            <thead>
              <tr>
                <th>Name</th>
                <th className="num">ID</th>
                <th>Digest</th>
                <th>Sample shape</th>
                <th>Classes</th>
                <th className="num">Train</th>
                <th className="num">Test</th>
                <th className="num">Size</th>
                <th className="num">Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {datasets.data.map((dataset) => (
                <DatasetRow
                  key={dataset.id}
                  dataset={dataset}
                  now={now}
                  mayEdit={mayEdit}
                  deleting={remove.isPending}
                  onDelete={() => remove.mutate(dataset.id)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

interface RowProps {
  readonly dataset: DatasetRead;
  readonly now: number;
  readonly mayEdit: boolean;
  readonly deleting: boolean;
  readonly onDelete: () => void;
}

function DatasetRow({ dataset, now, mayEdit, deleting, onDelete }: RowProps) {
  return (
    <tr data-testid="dataset-row" data-dataset-id={dataset.id} data-dataset-name={dataset.name}>
      <td className="dataset-name">{dataset.name}</td>
      <td className="num">{dataset.id}</td>
      <td>
        <span className="dataset-digest">
          <code title={dataset.digest} data-testid="dataset-digest">
            {shortDigest(dataset.digest)}
          </code>
          <CopyButton text={dataset.digest} testId="dataset-digest-copy" />
        </span>
      </td>
      <td title={shapesTitle(dataset.shapes)} data-testid="dataset-shape">
        {featureShapeText(dataset.shapes)} <span className="muted small">{dataset.dtype}</span>
      </td>
      <td
        className="dataset-classes"
        title={dataset.classes.join(", ")}
        data-testid="dataset-classes"
      >
        {classesText(dataset.classes)}{" "}
        <span className="muted small">({dataset.classes.length})</span>
      </td>
      <td className="num">{formatCount(dataset.n_train)}</td>
      <td className="num">{formatCount(dataset.n_test)}</td>
      <td className="num">{formatBytes(dataset.size_bytes)}</td>
      <td
        className="num"
        title={`${new Date(dataset.created_at).toLocaleString()}${dataset.created_by ? ` by ${dataset.created_by}` : ""}`}
      >
        {formatWhen(dataset.created_at, now)}
      </td>
      <td>
        <div className="dataset-actions">
          {mayEdit && (
            <Link to={newRunWithDataset(dataset)} data-testid="dataset-new-run">
              Use in a new run
            </Link>
          )}
          {mayEdit && (
            <ConfirmButton
              testId="dataset-delete"
              label="Delete"
              question={`Delete ${dataset.name}?`}
              confirmLabel="Delete dataset"
              disabled={deleting}
              onConfirm={onDelete}
            />
          )}
        </div>
      </td>
    </tr>
  );
}

function DatasetsEmpty({ project }: { readonly project: string }) {
  return (
    <div className="runs-empty" data-testid="datasets-empty">
      <h2>No datasets in {project} yet</h2>
      <p>
        Upload your own arrays to run a <code>custom</code> benchmark over them: an{" "}
        <code>.npz</code> file holding four arrays, <code>x_train</code> and <code>x_test</code>{" "}
        (one sample per row, any sample shape, the same in both) and <code>y_train</code> and{" "}
        <code>y_test</code> (integer class labels, 0 or more). A <code>.pt</code> file of a
        torch.save'd dict of the same four tensors works too. With NumPy:
      </p>
      <pre className="code-block">{NPZ_EXAMPLE}</pre>
      <p>Then upload it with the form above, or from a shell:</p>
      <pre className="code-block">gapwatch datasets upload digits.npz --name digits</pre>
      <p className="muted">
        A run names the dataset by id; its tasks split the classes (or permute or rotate every
        sample), and the server records the arrays' content digest, which the worker checks.
      </p>
    </div>
  );
}

const NPZ_EXAMPLE = `import numpy as np

np.savez("digits.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)`;
