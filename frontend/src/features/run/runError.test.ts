import { describe, expect, it } from "vitest";

import { describeRunError, exceptionInWords, lineInWords, missingDataset } from "./runError";

const engine = { id: 4, kind: "engine", status: "failed" } as const;

// What the worker writes (gapwatch.client.describe_error): the error line, then the traceback.
const MISSING_MNIST = [
  "DatasetUnavailable: dataset mnist not in cache and download failed: http://127.0.0.1:9/mnist/" +
    "train-images-idx3-ubyte.gz: <urlopen error [Errno 111] Connection refused>; to use a copy " +
    "of its files, run: gapwatch datasets import mnist PATH",
  "",
  "Traceback (most recent call last):",
  '  File "/srv/worker/gapwatch_worker/tasks.py", line 131, in execute',
  "    outcome = run_experiment(",
  '  File "/srv/worker/gapwatch_worker/cl/datasets/store.py", line 185, in load_arrays',
  "    raise DatasetUnavailable(source.name, ...)",
  "gapwatch_worker.cl.datasets.store.DatasetUnavailable: dataset mnist not in cache and download " +
    "failed: <urlopen error [Errno 111] Connection refused>; to use a copy of its files, run: " +
    "gapwatch datasets import mnist PATH",
].join("\n");

describe("exception names in words", () => {
  it("splits the class name and drops a redundant Error", () => {
    expect(exceptionInWords("DatasetUnavailable")).toBe("Dataset unavailable");
    expect(exceptionInWords("FileNotFoundError")).toBe("File not found");
    expect(exceptionInWords("ValueError")).toBe("Value error");
    expect(exceptionInWords("HTTPError")).toBe("HTTP error");
    expect(exceptionInWords("OutOfMemoryError")).toBe("Out of memory");
  });

  it("rewrites an exception line, and leaves a sentence as it is", () => {
    expect(lineInWords("torch.OutOfMemoryError: CUDA out of memory")).toBe(
      "Out of memory: CUDA out of memory",
    );
    expect(lineInWords("crashed: no heartbeat from the training loop for 300 s")).toBe(
      "crashed: no heartbeat from the training loop for 300 s",
    );
    expect(lineInWords("Stopped by hand")).toBe("Stopped by hand");
  });
});

describe("describeRunError", () => {
  it("says a missing dataset in words, keeps the traceback, and gives the import command", () => {
    const view = describeRunError(MISSING_MNIST, engine);
    expect(view.title).toBe("The run failed");
    expect(view.summary).toMatch(/^Dataset unavailable: dataset mnist not in cache/);
    expect(view.summary).not.toContain("Traceback");
    expect(view.details).toBe(MISSING_MNIST);
    expect(view.hint?.command).toBe("gapwatch datasets import mnist PATH");
    expect(view.hint?.text).toMatch(/import a copy of the official files/);
  });

  it("recognises other wordings of a missing dataset file", () => {
    expect(missingDataset("FileNotFoundError: dataset file /data/datasets/cifar10/batch_1 not found"))
      .toEqual({ name: "cifar10" });
    expect(missingDataset("The dataset file is missing")).toEqual({ name: null });
    expect(missingDataset("ValueError: lr must be positive")).toBeNull();
    const unnamed = describeRunError("RuntimeError: dataset file not found", engine);
    expect(unnamed.hint?.command).toBe("gapwatch datasets import <name> PATH");
    // The command at the end of the message names the dataset too ("import" is no dataset).
    expect(missingDataset("download failed; run: gapwatch datasets import mnist PATH")).toEqual({
      name: "mnist",
    });
    // Where no command names it, "import" after "dataset" is still no dataset's name.
    expect(missingDataset("dataset import failed: files not found")).toEqual({ name: null });
  });

  it("takes a bare traceback's last line as what went wrong", () => {
    const text = 'Traceback (most recent call last):\n  File "x.py", line 1\nKeyError: \'lr\'\n';
    const view = describeRunError(text, { ...engine, kind: "loop" });
    expect(view.summary).toBe("Key error: 'lr'");
    expect(view.details).toBe(text.trim());
    expect(view.hint).toBeNull();
  });

  it("has no details for one line, and tells a crashed loop how to resume", () => {
    const view = describeRunError("crashed: no heartbeat for 300 s", {
      id: 21,
      kind: "loop",
      status: "crashed",
    });
    expect(view.title).toBe("The run crashed");
    expect(view.details).toBeNull();
    expect(view.hint?.command).toBe("gapwatch.init(resume=21)");
  });

  it("names memory as the cause of an out-of-memory error", () => {
    const view = describeRunError("torch.OutOfMemoryError: CUDA out of memory", engine);
    expect(view.hint?.text).toContain("`training.batch_size`");
    expect(view.hint?.command).toBeNull();
  });

  it("says so when no message was recorded", () => {
    expect(describeRunError("", engine).summary).toBe("No error message was recorded.");
  });
});
