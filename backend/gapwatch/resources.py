"""Resource estimates of a run spec, so that an absurd spec is refused at submission.

Every number in a `RunSpec` is bounded, but the bounds multiply: a 16 x 16,384 MLP has four
billion parameters, a synthetic benchmark at its bounds holds trillions of values, and a long
run evaluated at every iteration stores billions of accuracy values. Such a spec would only
fail when a worker is OOM-killed (or the metric store fills up); `check_limits` refuses it up
front with the estimate and the cap instead.

The estimates follow the engine (`worker/gapwatch_worker/cl/`) as it is: the models' layers, the
scenarios' output units, what each benchmark materialises, each strategy's memories and the
loop's evaluation plan. They are computed here, without the engine, because the backend never
imports torch or the worker; `tests/unit/test_resources.py` checks them against the engine.
A custom benchmark's sizes are its uploaded dataset's: the API passes what it recorded of it
(`DatasetShape`).

This module imports neither torch, numpy nor the server: only the spec and the input layout
(`gapwatch.datasets.layout`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gapwatch.datasets.layout import input_shape
from gapwatch.spec import (
    AGEMSpec,
    CBPSpec,
    CNNSpec,
    CustomBenchmarkSpec,
    DERSpec,
    ERACESpec,
    ERSpec,
    EWCSpec,
    GEMSpec,
    L2InitSpec,
    LwFSpec,
    MLPSpec,
    OptimizerSpec,
    PermutedDigitsSpec,
    PermutedMNISTSpec,
    ResNet18ReducedSpec,
    RotatedMNISTSpec,
    RunSpec,
    ShrinkPerturbSpec,
    SISpec,
    SplitCIFAR10Spec,
    SplitCIFAR100Spec,
    SplitDigitsSpec,
    SplitFashionMNISTSpec,
    SplitMNISTSpec,
    SyntheticSpec,
)

PARAMETERS_SETTING = "GAPWATCH_MAX_PARAMETERS"
EVAL_ROWS_SETTING = "GAPWATCH_MAX_EVAL_ROWS"
MEMORY_SETTING = "GAPWATCH_MAX_MEMORY_BYTES"

FLOAT32 = 4
INT64 = 8
FLOAT64 = 8

# Samples per class of the datasets, train and test, as the engine loads them. MNIST's classes
# are uneven; the others are balanced. scikit-learn's digits have no official split: the
# engine holds out `test_fraction` of every class (see `_digits_tasks`).
DIGITS_CLASS_COUNTS = (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)
MNIST_TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
MNIST_TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
FASHION_MNIST_COUNTS = ((6000,) * 10, (1000,) * 10)
CIFAR10_COUNTS = ((5000,) * 10, (1000,) * 10)
CIFAR100_COUNTS = ((500,) * 100, (100,) * 100)

DIGITS_SHAPE = (1, 8, 8)
MNIST_SHAPE = (1, 28, 28)
CIFAR_SHAPE = (3, 32, 32)

# Mirrors of engine constants (`gapwatch/torch/evaluation.py`, `cl/strategies/ewc.py`).
EVAL_CHUNK_ROWS = 65_536
FISHER_CHUNK_ELEMENTS = 2**25

# Where each memory part comes from in the spec: a refusal names the field of the largest part.
PART_LOCATIONS: dict[str, tuple[str, ...]] = {
    "benchmark data": ("body", "benchmark"),
    "benchmark build": ("body", "benchmark"),
    "evaluation subsets": ("body", "evaluation"),
    "evaluation activations": ("body", "evaluation"),
    "model and optimizer": ("body", "model"),
    "replay memory": ("body", "strategy"),
    "strategy state": ("body", "strategy"),
    "training activations": ("body", "training"),
}


@dataclass(frozen=True)
class ResourceEstimate:
    """What a run spec will cost, as the engine builds and runs it. Estimates, not measurements.

    Attributes:
        parameters: Trainable parameters of the model the engine builds for the benchmark and
            scenario, output units included (exact: the same layers as `cl/models.py`).
        eval_values: Accuracy values the run stores, one per (evaluation, task evaluated):
            evaluations at step 0 (every task), at every multiple of `evaluation.every` and at
            every task boundary, each over the tasks seen so far (or all tasks with
            `include_unseen`). Exact for the loop in `cl/loop.py`, but an upper bound for a
            custom class split trained by epochs (its tasks' sizes are not known here, only
            their sum); the run stores as many loss values again.
        memory_bytes: Estimated peak memory of the worker's device (CPU RAM or GPU memory)
            for the run: the larger of the benchmark build's peak and the training peak; see
            `memory_parts` for what is counted. It leaves out the Python and torch runtime
            (a few hundred MB, plus the CUDA context on a GPU), the allocator's fragmentation
            and the host copy of a checkpoint on resume.
        memory_parts: The parts of the estimate in bytes, by name: "benchmark data" (every
            task's train and test tensors as preloaded, float32 inputs and int64 targets),
            "benchmark build" (temporaries while the benchmark is built: the raw dataset
            arrays, float64 synthetic samples), "evaluation subsets" (the evaluator's copy of
            every task's test subset), "evaluation activations" (one chunked forward over
            them), "model and optimizer" (parameters, gradients, optimizer state and scratch,
            batch-norm buffers), "replay memory" (a replay buffer preallocated at its full
            capacity), "strategy state" (parameter-sized tensors of EWC, SI, LwF, A-GEM and
            their temporaries) and "training activations" (what autograd keeps for one
            update's forward over the batch and any replayed rows). memory_bytes is
            data + max(build, subsets + model + replay + strategy + max(activations)).
        iterations: Updates over the whole run (an upper bound where `eval_values` is).
        evaluations: Continual evaluations over the whole run (likewise).
    """

    parameters: int
    eval_values: int
    memory_bytes: int
    memory_parts: tuple[tuple[str, int], ...] = ()
    iterations: int = 0
    evaluations: int = 0

    def part(self, name: str) -> int:
        """The bytes of one named memory part (0 if the run has none)."""
        return dict(self.memory_parts).get(name, 0)


class NoEstimate(ValueError):
    """A spec whose benchmark or model this module has no formula for (a plugin's benchmark
    or model, or a custom benchmark whose dataset's `DatasetShape` was not given)."""


@dataclass(frozen=True)
class DatasetShape:
    """What the estimate of a custom benchmark needs of its uploaded dataset: what the API
    recorded of it at upload (`gapwatch.server.models.Dataset`).

    Attributes:
        sample_shape: One row of x_train as uploaded (its shape without the leading N).
        classes: The labels found in either split.
        n_train: Rows of the train split.
        n_test: Rows of the test split.
        file_bytes: The canonical .npz's size: the four arrays as the worker reads them.
        itemsize: Bytes of one input value as uploaded (x_train's dtype).
    """

    sample_shape: tuple[int, ...]
    classes: tuple[int, ...]
    n_train: int
    n_test: int
    file_bytes: int
    itemsize: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One input as the engine lays it out (`gapwatch.datasets.layout.input_shape`):
        (H, W) -> (1, H, W); (C, H, W) and (D,) as they are; () -> (1,); a higher rank
        flattened to (D,)."""
        return input_shape(self.sample_shape)


@dataclass(frozen=True)
class ResourceLimitExceeded:
    """One cap that a run spec's estimate exceeds, ready for a 422.

    Attributes:
        loc: The request location the estimate is most tied to, e.g. ("body", "model").
        message: The estimate and the cap in words, naming the setting that sets the cap.
        estimate: The estimated amount (parameters, accuracy values or bytes).
        cap: The cap it exceeds.
        setting: The environment variable of the cap.
    """

    loc: tuple[str, ...]
    message: str
    estimate: int
    cap: int
    setting: str


# --- Benchmarks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _BenchmarkShape:
    """What a benchmark materialises, as the engine builds it.

    Attributes:
        input_shape: One input, (C, H, W) or (D,).
        n_outputs: Output units for the spec's scenario (`cl/benchmarks/scenarios.py`).
        train_sizes: Train samples per task.
        test_sizes: Test samples per task.
        data_bytes: Every tensor the benchmark keeps on the device.
        build_bytes: Temporaries while it is built, on top of `data_bytes` (an upper bound).
        total_rows: None when the sizes per task are exact; else (train, test) rows over all
            tasks at most, the sizes per task being upper bounds only (a custom class split:
            the API does not store how many rows each class has).
    """

    input_shape: tuple[int, ...]
    n_outputs: int
    train_sizes: tuple[int, ...]
    test_sizes: tuple[int, ...]
    data_bytes: int
    build_bytes: int
    total_rows: tuple[int, int] | None = None

    @property
    def features(self) -> int:
        return math.prod(self.input_shape)


def _task_classes(n_tasks: int, n_classes: int) -> list[range]:
    """Consecutive disjoint classes per task, leftovers dropped (`images.task_classes`)."""
    per_task = n_classes // n_tasks
    return [range(k * per_task, (k + 1) * per_task) for k in range(n_tasks)]


def _n_outputs(scenario: str, n_tasks: int, classes_per_task: int) -> int:
    """Output units of tasks of `classes_per_task` classes each (`scenarios.output_targets`).

    Class-incremental: one unit per distinct class (every benchmark allowing it has disjoint
    classes). Task-incremental: one head per task, even for tasks sharing their labels.
    Domain-incremental: one head of a task's classes.
    """
    if scenario == "domain_incremental":
        return classes_per_task
    return n_tasks * classes_per_task


def _split_tasks(
    n_tasks: int,
    train_counts: tuple[int, ...],
    test_counts: tuple[int, ...],
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    classes = _task_classes(n_tasks, len(train_counts))
    return (
        tuple(sum(train_counts[c] for c in task) for task in classes),
        tuple(sum(test_counts[c] for c in task) for task in classes),
    )


def _digits_counts(test_fraction: float) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Train and test samples per class of the engine's stratified split of the digits: it
    holds out round(test_fraction * n) of each class, at least one and at most n - 1."""
    test = tuple(min(max(round(test_fraction * n), 1), n - 1) for n in DIGITS_CLASS_COUNTS)
    train = tuple(n - t for n, t in zip(DIGITS_CLASS_COUNTS, test, strict=True))
    return train, test


def _digits_tasks(spec: SplitDigitsSpec) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return _split_tasks(spec.n_tasks, *_digits_counts(spec.test_fraction))


def _rows_bytes(rows: int, features: int) -> int:
    """float32 inputs and int64 targets of `rows` samples."""
    return rows * (features * FLOAT32 + INT64)


def _custom_shape(bench: CustomBenchmarkSpec, dataset: DatasetShape) -> _BenchmarkShape:
    """A custom benchmark as `cl/benchmarks/custom.py` builds it over `dataset`.

    Class splits: the dataset's row records its labels but not how many rows each class has,
    so a task's sizes are bounds: every row of its split but one per other task (the engine
    refuses a task without rows); the tasks' classes are disjoint, so all of them together
    hold at most every row (`total_rows`), which bounds the data, the evaluation subsets and
    the evaluation plan. Permutation and rotation splits: every task holds every row (exact).
    """
    shape = dataset.input_shape
    features = math.prod(shape)
    split = bench.split
    if split.kind == "classes":
        n_tasks = len(split.tasks)
        per_task = [len(classes) for classes in split.tasks]
        # Class-incremental: one unit per (distinct) class; task-incremental: a head per
        # task; domain-incremental: one head of the largest task's classes.
        n_outputs = max(per_task) if bench.scenario == "domain_incremental" else sum(per_task)
        train = max(dataset.n_train - (n_tasks - 1), 1)
        test = max(dataset.n_test - (n_tasks - 1), 1)
        # While a task is cut out: its rows as uploaded and as float32 on the host, and its
        # labels before and after they are mapped; the raw arrays all along.
        selection = (train + test) * (features * (dataset.itemsize + FLOAT32) + 2 * INT64)
        return _BenchmarkShape(
            shape,
            n_outputs,
            (train,) * n_tasks,
            (test,) * n_tasks,
            _rows_bytes(dataset.n_train + dataset.n_test, features),
            dataset.file_bytes + selection,
            total_rows=(dataset.n_train, dataset.n_test),
        )
    if split.kind == "permutations":
        n_tasks = split.n_tasks
        copies = n_tasks  # task 0 is the (standardised) base, every other a permuted copy
    else:
        n_tasks = len(split.angles)
        # An angle that is a multiple of 360 shares one unrotated copy.
        transformed = sum(1 for angle in split.angles if angle % 360.0 != 0.0)
        copies = transformed + (transformed < n_tasks)
    n_classes = len(dataset.classes)
    n_outputs = n_tasks * n_classes if bench.scenario == "task_incremental" else n_classes
    rows = dataset.n_train + dataset.n_test
    images = rows * features * FLOAT32
    return _BenchmarkShape(
        shape,
        n_outputs,
        (dataset.n_train,) * n_tasks,
        (dataset.n_test,) * n_tasks,
        # Each task's labels are mapped into a tensor of its own.
        copies * images + n_tasks * rows * INT64,
        # The raw arrays, the float32 base (or its host copy) and the unmapped labels.
        dataset.file_bytes + images + rows * INT64,
    )


def _benchmark_shape(spec: RunSpec, dataset: DatasetShape | None = None) -> _BenchmarkShape:
    bench = spec.benchmark
    if isinstance(bench, CustomBenchmarkSpec) and dataset is not None:
        return _custom_shape(bench, dataset)
    if isinstance(bench, SplitDigitsSpec):
        train, test = _digits_tasks(bench)
        features = math.prod(DIGITS_SHAPE)
        # scikit-learn's float64 data and images plus the cached float32 copy (1,797 images).
        raw = sum(DIGITS_CLASS_COUNTS) * features * (FLOAT64 + FLOAT64 + FLOAT32)
        return _BenchmarkShape(
            DIGITS_SHAPE,
            _n_outputs(bench.scenario, bench.n_tasks, 10 // bench.n_tasks),
            train,
            test,
            _rows_bytes(sum(train) + sum(test), features),
            raw,
        )
    if isinstance(bench, PermutedDigitsSpec):
        train_counts, test_counts = _digits_counts(bench.test_fraction)
        n_train, n_test = sum(train_counts), sum(test_counts)
        features = math.prod(DIGITS_SHAPE)
        # `permute: inputs`: a permuted float32 copy of the inputs per task but task 0, which
        # keeps the unpermuted ones; `permute: labels`: one copy shared by every task. Each task
        # keeps its own mapped int64 targets.
        copies = bench.n_tasks if bench.permute == "inputs" else 1
        data = copies * (n_train + n_test) * features * FLOAT32
        data += bench.n_tasks * (n_train + n_test) * INT64
        # As Split Digits: scikit-learn's float64 data and images and the cached float32 copy;
        # and the unmapped class ids, kept beside the tasks while they are built.
        raw = sum(DIGITS_CLASS_COUNTS) * (features * (FLOAT64 + FLOAT64 + FLOAT32) + 2 * INT64)
        return _BenchmarkShape(
            DIGITS_SHAPE,
            _n_outputs(bench.scenario, bench.n_tasks, 10),
            (n_train,) * bench.n_tasks,
            (n_test,) * bench.n_tasks,
            data,
            raw,
        )
    if isinstance(
        bench, SplitMNISTSpec | SplitFashionMNISTSpec | SplitCIFAR10Spec | SplitCIFAR100Spec
    ):
        if isinstance(bench, SplitMNISTSpec):
            shape, counts = MNIST_SHAPE, (MNIST_TRAIN_COUNTS, MNIST_TEST_COUNTS)
        elif isinstance(bench, SplitFashionMNISTSpec):
            shape, counts = MNIST_SHAPE, FASHION_MNIST_COUNTS
        elif isinstance(bench, SplitCIFAR10Spec):
            shape, counts = CIFAR_SHAPE, CIFAR10_COUNTS
        else:
            shape, counts = CIFAR_SHAPE, CIFAR100_COUNTS
        train, test = _split_tasks(bench.n_tasks, *counts)
        features = math.prod(shape)
        n_classes = len(counts[0])
        # While the tasks are cut out, the whole uint8 dataset is in memory, and each task's
        # uint8 selection is copied once more on its way to float32.
        raw = (sum(counts[0]) + sum(counts[1])) * features
        per_task = max(max(train), max(test)) * features * 2
        return _BenchmarkShape(
            shape,
            _n_outputs(bench.scenario, bench.n_tasks, n_classes // bench.n_tasks),
            train,
            test,
            _rows_bytes(sum(train) + sum(test), features),
            raw + per_task,
        )
    if isinstance(bench, PermutedMNISTSpec | RotatedMNISTSpec):
        n_train, n_test = sum(MNIST_TRAIN_COUNTS), sum(MNIST_TEST_COUNTS)
        features = math.prod(MNIST_SHAPE)
        if isinstance(bench, PermutedMNISTSpec):
            transformed = bench.n_tasks - 1  # task 0 keeps the unpermuted images
        else:
            angles = bench.angles or [9.0 * t for t in range(bench.n_tasks)]
            # An angle that is a multiple of 360 shares the unrotated tensors.
            transformed = sum(1 for a in angles if a % 360.0 != 0.0)
        base_shared = transformed < bench.n_tasks
        images = (n_train + n_test) * features * FLOAT32
        # Every transformed task is a full float32 copy of MNIST (219.5 MB); the targets are
        # mapped once per task, and the unmapped ones are kept as the base.
        data = (transformed + base_shared) * images + (bench.n_tasks + 1) * (
            n_train + n_test
        ) * INT64
        build = (n_train + n_test) * features + (0 if base_shared else images)
        return _BenchmarkShape(
            MNIST_SHAPE,
            _n_outputs(bench.scenario, bench.n_tasks, 10),
            (n_train,) * bench.n_tasks,
            (n_test,) * bench.n_tasks,
            data,
            build,
        )
    if isinstance(bench, SyntheticSpec):
        m, dim = bench.classes_per_task, bench.dim
        n_train, n_test = m * bench.train_per_class, m * bench.test_per_class
        # Each split is drawn on the CPU in float64: z, the centres gathered, noise * z and their
        # sum are alive at once (4 x 8 bytes a value), before the rotation and the float32 copy.
        # Each task's rotation is built from a few dim x dim float64 matrices (QR, basis, block).
        build = 4 * FLOAT64 * max(n_train, n_test) * dim + 5 * FLOAT64 * dim * dim
        return _BenchmarkShape(
            (dim,),
            _n_outputs(bench.scenario, bench.n_tasks, m),
            (n_train,) * bench.n_tasks,
            (n_test,) * bench.n_tasks,
            bench.n_tasks * _rows_bytes(n_train + n_test, dim),
            build,
        )
    # A plugin's sizes are its own, a custom benchmark's its dataset's (unknown if not given).
    raise NoEstimate(f"no resource estimate for benchmark {bench.name!r}")


# --- Models -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ModelShape:
    """A model's size, as `cl/models.py` builds it.

    Attributes:
        parameters: Trainable parameters.
        buffer_bytes: Non-trainable buffers (batch-norm running statistics).
        saved_per_row: float32 values per input row that autograd keeps for the backward pass
            (the layer outputs a backward needs; a max-pool's int64 indices count as 2).
        widest: The largest layer output per row.
        eval_live: How many widest-sized outputs a forward without autograd holds at once
            (measured with CPU torch: 2 for the MLP and the CNN, 5.4 for the ResNet, whose
            blocks keep their input, two convolution outputs and the sum).

    The activation counts were checked against the growth of the peak resident memory over
    one CPU update (torch 2, 4 threads), in float32 values per row, measured / estimated:
    MLP 3 x 4000 on MNIST 16,024 / 16,040; CNN [32, 64] on MNIST 96,660 / 91,240; CNN
    [64, 64, 64] on CIFAR 205,000 / 216,360; reduced ResNet-18 (nf 20) on CIFAR 420,000 to
    600,000 over six runs / 502,000.
    """

    parameters: int
    buffer_bytes: int
    saved_per_row: int
    widest: int
    eval_live: int


def _linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def _mlp(spec: MLPSpec, features: int, n_outputs: int) -> _ModelShape:
    parameters, width, saved, widest = 0, features, 0, n_outputs
    for hidden in spec.hidden_sizes:
        parameters += _linear(width, hidden)
        saved += hidden  # the ReLU output (the next linear layer's saved input)
        widest = max(widest, hidden)
        width = hidden
    parameters += _linear(width, n_outputs)
    return _ModelShape(parameters, 0, saved + n_outputs, widest, eval_live=2)


def _image_shape(shape: tuple[int, ...], model: str) -> tuple[int, int, int]:
    if len(shape) != 3:  # the spec forbids it; the engine would refuse too
        raise ValueError(f"model {model} needs image inputs (C, H, W), got shape {shape}")
    return shape[0], shape[1], shape[2]


def _cnn(spec: CNNSpec, shape: tuple[int, ...], n_outputs: int) -> _ModelShape:
    channels, height, width = _image_shape(shape, "cnn")
    parameters, saved, widest = 0, 0, 0
    for out_channels in spec.channels:
        parameters += channels * out_channels * 9 + out_channels
        conv = out_channels * height * width
        saved += conv  # the ReLU output (the convolution's output is not kept)
        widest = max(widest, conv)
        if height >= 2 and width >= 2:  # the engine leaves out a pool below 1 pixel
            height, width = height // 2, width // 2
            saved += 3 * out_channels * height * width  # pooled values and int64 indices
        channels = out_channels
    flat = channels * height * width
    parameters += _linear(flat, spec.hidden) + _linear(spec.hidden, n_outputs)
    saved += spec.hidden + n_outputs
    widest = max(widest, spec.hidden, n_outputs)
    return _ModelShape(parameters, 0, saved, widest, eval_live=2)


def _resnet18_reduced(
    spec: ResNet18ReducedSpec, shape: tuple[int, ...], n_outputs: int
) -> _ModelShape:
    channels, height, width = _image_shape(shape, "resnet18_reduced")
    nf = spec.nf
    bn_layers, bn_channels = 1, nf
    parameters = channels * nf * 9 + 2 * nf  # stem convolution (no bias) and its batch norm
    saved = 3 * nf * height * width  # convolution, batch norm, ReLU
    widest = nf * height * width
    in_planes = nf
    for multiplier, stride in ((1, 1), (2, 2), (4, 2), (8, 2)):
        planes = nf * multiplier
        for block_in, block_stride in ((in_planes, stride), (planes, 1)):
            # 3x3 convolutions with padding 1: a side of n becomes (n - 1) // stride + 1.
            height, width = (height - 1) // block_stride + 1, (width - 1) // block_stride + 1
            area = planes * height * width
            parameters += block_in * planes * 9 + planes * planes * 9 + 4 * planes
            bn_layers, bn_channels = bn_layers + 2, bn_channels + 2 * planes
            # Kept: both convolutions' outputs (batch norm's inputs) and both ReLU outputs;
            # one more for the batch-norm output alive until the ReLU or the sum.
            saved += 5 * area
            if block_stride != 1 or block_in != planes:
                parameters += block_in * planes + 2 * planes  # 1x1 projection and its bn
                bn_layers, bn_channels = bn_layers + 1, bn_channels + planes
                saved += 2 * area
            widest = max(widest, area)
        in_planes = planes
    parameters += _linear(in_planes, n_outputs)
    saved += in_planes + n_outputs
    # Running mean and variance per channel, and an int64 batch counter per batch norm.
    buffer_bytes = 2 * FLOAT32 * bn_channels + INT64 * bn_layers
    return _ModelShape(parameters, buffer_bytes, saved, widest, eval_live=6)


def _model_shape(spec: RunSpec, bench: _BenchmarkShape) -> _ModelShape:
    model = spec.model
    if isinstance(model, MLPSpec):
        return _mlp(model, bench.features, bench.n_outputs)
    if isinstance(model, CNNSpec):
        return _cnn(model, bench.input_shape, bench.n_outputs)
    if isinstance(model, ResNet18ReducedSpec):
        return _resnet18_reduced(model, bench.input_shape, bench.n_outputs)
    raise NoEstimate(f"no resource estimate for model {model.name!r}")  # a plugin's model


# --- Training length and evaluation plan ------------------------------------------------------


def count_eval_values(
    task_lengths: list[int] | tuple[int, ...], every: int, include_unseen: bool
) -> tuple[int, int]:
    """Evaluations and (evaluation, task) accuracy values of the loop's evaluation plan.

    Task k trains on iterations [s_k, e_k). It is evaluated at s_k (step 0: every task), at every
    multiple of `every` strictly inside (s_k, e_k), and the run ends with one evaluation of
    every task at e_T; each evaluation inside task k covers tasks 0..k (all with
    include_unseen). A boundary that is a multiple of `every` is evaluated once.

    Returns:
        (evaluations, accuracy values).
    """
    n_tasks = len(task_lengths)
    evaluations, values, start = 0, 0, 0
    for k, length in enumerate(task_lengths):
        end = start + length
        seen = n_tasks if include_unseen else k + 1
        inside = (end - 1) // every - start // every  # multiples of every in (start, end)
        evaluations += 1 + inside
        values += (n_tasks if start == 0 else seen) + inside * seen
        start = end
    return evaluations + 1, values + n_tasks


def bound_eval_values(
    n_tasks: int, iterations: int, every: int, include_unseen: bool
) -> tuple[int, int]:
    """Upper bounds of `count_eval_values` over every plan of `n_tasks` tasks of at least one
    iteration each and at most `iterations` in all, whatever their lengths.

    Every task is evaluated at its start, over `n_tasks` tasks at step 0 and `seen` after;
    the evaluations inside tasks are at multiples of `every` strictly inside (0, iterations),
    at most (iterations - 1) // every of them, each over at most `n_tasks` tasks; then one
    final evaluation of every task.

    Returns:
        (evaluations, accuracy values), each at least `count_eval_values`' for any such plan.
    """
    inside = max(iterations - 1, 0) // every
    starts = n_tasks + sum(n_tasks if include_unseen else k + 1 for k in range(1, n_tasks))
    return n_tasks + inside + 1, starts + inside * n_tasks + n_tasks


# --- Strategies -------------------------------------------------------------------------------


def _optimizer_copies(optimizer: OptimizerSpec) -> int:
    """Parameter-sized float32 tensors besides the parameters: gradients, state and scratch.

    SGD keeps a momentum buffer when momentum > 0; Adam keeps two moments and its foreach step
    allocates a denominator; weight decay adds the decayed gradient as scratch. UPGD
    (`cl/optim.py`) keeps a utility trace per weight, and its step's temporaries (-g * w, the
    scaled utility, 1 - it, the noise, the noisy gradient and the scaled update) live for one
    parameter tensor at a time: counted as five of the whole model's, an upper bound.
    """
    copies = 1  # gradients
    if optimizer.name == "adam":
        copies += 3
    elif optimizer.name == "upgd":
        copies += 1 + 5
    elif optimizer.momentum:
        copies += 1
    if optimizer.weight_decay:
        copies += 1
    return copies


@dataclass(frozen=True)
class _StrategyCost:
    replay_bytes: int = 0
    state_bytes: int = 0
    extra_rows: int = 0  # rows forwarded with autograd besides the training batch
    activation_bytes: int = 0  # strategy-specific activations (EWC's per-sample pass)


def _strategy_cost(spec: RunSpec, bench: _BenchmarkShape, model: _ModelShape) -> _StrategyCost:
    strategy = spec.strategy
    p_bytes = model.parameters * FLOAT32
    row = bench.features * FLOAT32 + 2 * INT64  # input, target, task id
    batch = spec.training.batch_size
    if isinstance(strategy, ERSpec | ERACESpec | DERSpec):
        # Allocated at the first update for the full capacity, whatever the stream's length.
        rows = strategy.buffer_size
        stored = row
        if isinstance(strategy, DERSpec):
            stored += bench.n_outputs * FLOAT32  # the logits of each stored row
        state = 0
        if isinstance(strategy, ERSpec) and strategy.buffer_policy != "reservoir":
            rows += 1  # a scratch row
            stored += FLOAT64  # a sort key per row
        if isinstance(strategy, ERSpec) and strategy.buffer_policy == "task_end":
            # At a task's end its whole train set is offered: the selection's keys, labels,
            # sort orders and ranks over the held and offered rows (13 8-byte values a row).
            state = (max(bench.train_sizes) + strategy.buffer_size) * 13 * INT64
        replayed = min(strategy.replay_batch_size or batch, strategy.buffer_size)
        draws = 2 if strategy.name == "derpp" and strategy.beta > 0 else 1
        return _StrategyCost(
            replay_bytes=rows * stored, state_bytes=state, extra_rows=draws * replayed
        )
    if isinstance(strategy, AGEMSpec):
        memory = (strategy.buffer_size + 1) * (row + FLOAT64)
        # Flat gradients of the batch and of the reference, the autograd.grad lists before
        # they are concatenated, and the projection; at a task's end, the offered rows.
        offered = min(strategy.buffer_size, max(bench.train_sizes)) * row
        state = max(4 * p_bytes, offered)
        reference = min(strategy.reference_batch_size, strategy.buffer_size)
        return _StrategyCost(replay_bytes=memory, state_bytes=state, extra_rows=reference)
    if isinstance(strategy, GEMSpec):
        # memories_per_task (input, target) rows for every task, allocated at the first end.
        n_tasks = len(bench.train_sizes)
        memory = n_tasks * strategy.memories_per_task * (bench.features * FLOAT32 + INT64)
        # Per update: a flat gradient per earlier task and the batch's, their stacked copy and
        # autograd's lists; the QP's float64 host copies of them, the projection and its
        # float32 copy. One task's memory is forwarded with autograd at a time.
        state = (4 * n_tasks + 4) * p_bytes
        return _StrategyCost(
            replay_bytes=memory, state_bytes=state, extra_rows=strategy.memories_per_task
        )
    if isinstance(strategy, EWCSpec):
        # Kept: one (summed or running) Fisher and one anchor, whatever the number of tasks:
        # offline EWC merges the per-task quadratics into one. At a task's end: the new Fisher,
        # its mean, a clone of the parameters, the merge, and a chunk of per-sample gradients
        # (and their squares) of at most 2**25 values unless one sample's exceeds it.
        samples = min(strategy.fisher_samples, max(bench.train_sizes))
        chunk = min(max(1, FISHER_CHUNK_ELEMENTS // max(model.parameters, 1)), samples)
        boundary = 4 * p_bytes + 2 * chunk * p_bytes + samples * row
        training = 2 * p_bytes  # the penalty's graph: (p - anchor) and its square
        return _StrategyCost(
            state_bytes=2 * p_bytes + max(boundary, training),
            activation_bytes=chunk * model.saved_per_row * FLOAT32,
        )
    if isinstance(strategy, SISpec):
        # omega, importance, previous and the pre-step copy; per update the task gradient,
        # the penalty's gradient and the penalty's graph.
        return _StrategyCost(state_bytes=8 * p_bytes)
    if isinstance(strategy, LwFSpec):
        # The frozen copy (whose deepcopy also copies the gradients once) and its forward.
        return _StrategyCost(
            state_bytes=2 * p_bytes + model.buffer_bytes,
            activation_bytes=batch * 2 * model.widest * FLOAT32,
        )
    if isinstance(strategy, L2InitSpec):
        # theta_0, and the penalty's graph: (theta - theta_0) and its square per parameter.
        return _StrategyCost(state_bytes=3 * p_bytes)
    if isinstance(strategy, ShrinkPerturbSpec):
        # The noise of one parameter tensor at a time: at most the whole model's.
        return _StrategyCost(state_bytes=p_bytes)
    if isinstance(strategy, CBPSpec):
        # Per hidden unit (at most saved_per_row of them): its utility (float32), age and
        # last replacement (int64); and the captured activations of the batch, one value per
        # unit and row, with a same-sized temporary of the utility's update.
        units = model.saved_per_row
        return _StrategyCost(
            state_bytes=units * (FLOAT32 + 2 * INT64) + 2 * batch * units * FLOAT32
        )
    # finetune and joint keep nothing of their own. A strategy without a formula here (a
    # plugin's) is counted as they are: the estimate is then a lower bound of its cost, so a
    # refusal on it is still right.
    return _StrategyCost()


# --- The estimate -----------------------------------------------------------------------------


def estimate(spec: RunSpec, dataset: DatasetShape | None = None) -> ResourceEstimate:
    """Estimates what a run spec costs: model size, stored accuracy values and peak memory.

    Args:
        spec: A validated run spec (any benchmark, model and strategy of `gapwatch.spec`).
        dataset: The uploaded dataset of a custom benchmark (ignored for any other); a custom
            class split's estimate is an upper bound (see `_custom_shape`).

    Returns:
        The estimate; see `ResourceEstimate` for what each number counts.

    Raises:
        NoEstimate: The benchmark or the model has no formula here (a custom benchmark
            without `dataset`).
    """
    bench = _benchmark_shape(spec, dataset)
    model = _model_shape(spec, bench)
    strategy = _strategy_cost(spec, bench, model)
    training, evaluation = spec.training, spec.evaluation

    lengths = [training.updates_per_task(n) for n in bench.train_sizes]
    iterations = sum(lengths)
    if bench.total_rows is None or training.iterations_per_task is not None:
        # Exact: the sizes are, or the lengths do not depend on them.
        evaluations, eval_values = count_eval_values(
            lengths, evaluation.every, evaluation.include_unseen
        )
    else:
        # Tasks of at most total_rows[0] rows in all: ceil(x) < x + 1 makes their updates at
        # most those of all the rows in one task, plus one per task.
        n_tasks = len(lengths)
        iterations = min(iterations, training.updates_per_task(bench.total_rows[0]) + n_tasks)
        evaluations, eval_values = bound_eval_values(
            n_tasks, iterations, evaluation.every, evaluation.include_unseen
        )

    features = bench.features
    eval_rows = sum(min(evaluation.subset_size, n) for n in bench.test_sizes)
    if bench.total_rows is not None:
        eval_rows = min(eval_rows, bench.total_rows[1])
    # Inputs, targets and task index on the device, and the CPU indices of the subsets.
    subsets = eval_rows * (features * FLOAT32 + 3 * INT64)
    chunk = min(eval_rows, EVAL_CHUNK_ROWS)
    eval_activations = chunk * (model.eval_live * model.widest + 3 * bench.n_outputs) * FLOAT32
    eval_activations += eval_rows * 4 * FLOAT64  # per-row correctness and loss, stacked

    rows = training.batch_size + strategy.extra_rows
    # Autograd's saved outputs, the widest gradient in flight in the backward, the gathered
    # (and concatenated) inputs, the logits' softmax, and the sampler's permutation.
    train_activations = (
        rows * (model.saved_per_row + model.widest + 3 * bench.n_outputs) * FLOAT32
        + 2 * rows * features * FLOAT32
        + 2 * max(bench.train_sizes) * INT64
        + strategy.activation_bytes
    )
    model_bytes = (
        model.parameters * FLOAT32 * (1 + _optimizer_copies(spec.optimizer)) + model.buffer_bytes
    )

    parts = (
        ("benchmark data", bench.data_bytes),
        ("benchmark build", bench.build_bytes),
        ("evaluation subsets", subsets),
        ("evaluation activations", eval_activations),
        ("model and optimizer", model_bytes),
        ("replay memory", strategy.replay_bytes),
        ("strategy state", strategy.state_bytes),
        ("training activations", train_activations),
    )
    training_peak = (
        subsets
        + model_bytes
        + strategy.replay_bytes
        + strategy.state_bytes
        + max(train_activations, eval_activations)
    )
    memory = bench.data_bytes + max(bench.build_bytes, training_peak)
    return ResourceEstimate(
        parameters=model.parameters,
        eval_values=eval_values,
        memory_bytes=memory,
        memory_parts=parts,
        iterations=iterations,
        evaluations=evaluations,
    )


def format_bytes(n: int) -> str:
    """Bytes in GiB (at least 1 GiB) or MiB, e.g. "32.0 GiB", "4.6 MiB"."""
    if n >= 2**30:
        return f"{n / 2**30:,.1f} GiB"
    return f"{n / 2**20:,.1f} MiB"


def check_limits(
    spec: RunSpec,
    *,
    max_parameters: int,
    max_eval_rows: int,
    max_memory_bytes: int,
    dataset: DatasetShape | None = None,
) -> list[ResourceLimitExceeded]:
    """The caps that a run spec's estimate exceeds (an empty list when it fits).

    Args:
        spec: A validated run spec.
        max_parameters: GAPWATCH_MAX_PARAMETERS: most trainable parameters of the model.
        max_eval_rows: GAPWATCH_MAX_EVAL_ROWS: most (evaluation, task) accuracy values.
        max_memory_bytes: GAPWATCH_MAX_MEMORY_BYTES: most estimated peak worker memory.
        dataset: The uploaded dataset a custom benchmark names (what the API recorded of it).

    Returns:
        One entry per cap exceeded, in the order parameters, evaluation values, memory; none
        for a spec without an estimate (`NoEstimate`: a plugin's benchmark or model, a custom
        benchmark without its `dataset`), which only the worker's own limits bound.
    """
    try:
        found = estimate(spec, dataset)
    except NoEstimate:
        return []
    problems: list[ResourceLimitExceeded] = []
    if found.parameters > max_parameters:
        problems.append(
            ResourceLimitExceeded(
                loc=("body", "model"),
                message=f"the model has an estimated {found.parameters:,} parameters; "
                f"the cap is {max_parameters:,} ({PARAMETERS_SETTING})",
                estimate=found.parameters,
                cap=max_parameters,
                setting=PARAMETERS_SETTING,
            )
        )
    if found.eval_values > max_eval_rows:
        problems.append(
            ResourceLimitExceeded(
                loc=("body", "evaluation"),
                message=f"the evaluation plan stores an estimated {found.eval_values:,} "
                f"accuracy values ({found.evaluations:,} evaluations over "
                f"{len(_benchmark_shape(spec, dataset).train_sizes)} tasks); the cap is "
                f"{max_eval_rows:,} ({EVAL_ROWS_SETTING}); raise evaluation.every",
                estimate=found.eval_values,
                cap=max_eval_rows,
                setting=EVAL_ROWS_SETTING,
            )
        )
    if found.memory_bytes > max_memory_bytes:
        largest, largest_bytes = max(found.memory_parts, key=lambda part: part[1])
        problems.append(
            ResourceLimitExceeded(
                loc=PART_LOCATIONS[largest],
                message=f"the run needs an estimated {format_bytes(found.memory_bytes)} of "
                f"worker memory (the largest part: {largest}, "
                f"{format_bytes(largest_bytes)}); the cap is "
                f"{format_bytes(max_memory_bytes)} ({MEMORY_SETTING})",
                estimate=found.memory_bytes,
                cap=max_memory_bytes,
                setting=MEMORY_SETTING,
            )
        )
    return problems
