"""The parts of a run spec: bounds, the component base classes, the built-in strategies,
models and benchmarks, the optimizer, training and evaluation plans, and the metric keys.

`gapwatch.spec` assembles these, with the plugins' components, into `RunSpec`. This module
discovers nothing, so the engine and plugins import their spec classes from here in any order:
a plugin module that imports `gapwatch.components` and the engine never starts plugin
discovery while it is itself half imported.

This module imports neither torch nor the server: users' own training loops import it too.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

# Bounds shared by several places. They exist to catch mistakes, not to limit research:
# 10 million updates per task is beyond any published continual-learning benchmark.
MAX_ITERATIONS_PER_TASK = 10_000_000
MAX_EVAL_SUBSET = 100_000
MAX_BATCH_SIZE = 65_536
MAX_SEED = 2**31 - 1

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d{1,2})?)$")
# Project names: lower-case slugs, so that they read well in URLs and on the command line.
PROJECT_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
DEFAULT_PROJECT = "default"

# What a run stores, bounded once for the API (which refuses more with a 422) and the SDK
# (which refuses it at the call, in the training loop).
METRIC_KEY_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_./\-]{0,127}$"
MAX_METRIC_KEY_CHARS = 128
MAX_STEP = 2**53  # exact in a float64 (JSON numbers in browsers)
EVENT_KIND_PATTERN = r"^[a-z_][a-z0-9_.\-]{0,63}$"
MAX_PAYLOAD_CHARS = 16_384
# A loop run's config is a few hundred bytes in practice; the bounds catch a tensor logged by
# mistake, and keep the init body under the API's 64 KiB body limit (a 413 names no field).
MAX_CONFIG_BYTES = 32 * 1024
MAX_CONFIG_DEPTH = 8
MAX_CONFIG_KEY_CHARS = 200


def check_text(value: str) -> str:
    """`value` if a database text column can hold it: no NUL character (PostgreSQL refuses it)
    and no lone surrogate (not UTF-8). A pydantic validator: raises ValueError naming why."""
    if "\x00" in value:
        raise ValueError("text must not hold a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


def check_json(
    value: Any, name: str, *, max_depth: int | None = None, max_key: int | None = None
) -> None:
    """Raises ValueError naming the place (`name.key[index]`) of what a JSON column cannot
    store or compare: NaN and infinities (the request parser reads `NaN` and `Infinity`), text
    and keys that `check_text` refuses (PostgreSQL's JSONB takes no NUL), and, where bounds
    are given, nesting deeper than `max_depth` levels or keys longer than `max_key`."""
    pending: list[tuple[str, Any, int]] = [(name, value, 0)]
    while pending:
        path, item, depth = pending.pop()
        if max_depth is not None and depth > max_depth:
            raise ValueError(f"{path[:200]} is nested deeper than {max_depth} levels")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{path[:200]} is {item}; a {name} holds finite numbers only")
        if isinstance(item, str):
            _check_text_at(item, path)
        elif isinstance(item, dict):
            for key, inner in item.items():
                _check_text_at(key, f"a key of {path}")
                if max_key is not None and len(key) > max_key:
                    raise ValueError(f"key {key[:40]!r}... is longer than {max_key} characters")
                pending.append((f"{path}.{key}", inner, depth + 1))
        elif isinstance(item, list):
            pending.extend(
                (f"{path}[{index}]", inner, depth + 1) for index, inner in enumerate(item)
            )


def _check_text_at(text: str, path: str) -> None:
    try:
        check_text(text)
    except ValueError as error:
        raise ValueError(f"{path[:200]}: {error}") from None


def _text_or_none(value: str | None) -> str | None:
    return None if value is None else check_text(value)


# Free text stored in a column or compared with one (names, tags, groups, their filters): what
# the database cannot hold is a 422 naming the field, not a database error. None passes.
Text = AfterValidator(_text_or_none)


class _Strict(BaseModel):
    """Unknown fields are errors: a misspelt option must not silently fall back to its default."""

    model_config = ConfigDict(extra="forbid")


class ComponentSpec(_Strict):
    """The base of every strategy, model and benchmark spec, built-in or from a plugin.

    A subclass has a `name: Literal[...]` field (the value a run spec names it by) and sets
    `implementation` to "module:attribute", where the worker finds its code: a `Strategy`
    subclass for a strategy, a builder function for a model or a benchmark (see
    `gapwatch_worker.cl`). It is declared as an entry point in group `gapwatch.strategies`,
    `gapwatch.models` or `gapwatch.benchmarks` (see `gapwatch.plugins`).
    """

    implementation: ClassVar[str] = ""


# --- Benchmarks -------------------------------------------------------------------------------

Scenario = Literal["class_incremental", "task_incremental", "domain_incremental"]
"""How tasks share the output space (van de Ven & Tolias, "Three scenarios for CL", 2019).

- class_incremental: one head over every class seen; the task id is not given.
- task_incremental: one head per task (multi-head); the task id is given at training and test.
- domain_incremental: one head shared by all tasks over the classes of one task; labels repeat.
"""

ALL_SCENARIOS: tuple[str, ...] = ("class_incremental", "task_incremental", "domain_incremental")
# Tasks that share their labels (a permuted or rotated MNIST) cannot be class-incremental.
SHARED_LABEL_SCENARIOS: tuple[str, ...] = ("domain_incremental", "task_incremental")


class BenchmarkSpecBase(ComponentSpec):
    """The base of benchmark specs: a `scenario` field, checked against `allowed_scenarios`.

    `image_inputs`: True if the inputs are images (C, H, W) that convolutional models take,
    False for vectors, None when only the built benchmark can tell (an uploaded dataset).
    `channels`: the images' channels where the spec alone tells (a `normalize` gives one mean
    and one std per channel); None otherwise.
    """

    allowed_scenarios: ClassVar[tuple[str, ...]] = ALL_SCENARIOS
    image_inputs: ClassVar[bool | None] = True
    channels: ClassVar[int | None] = None
    # Fields a subclass must declare (plugin discovery checks them).
    required_fields: ClassVar[tuple[str, ...]] = ("name", "scenario")

    @model_validator(mode="after")
    def _normalize_per_channel(self) -> BenchmarkSpecBase:
        normalize = getattr(self, "normalize", None)
        if normalize is not None and self.channels is not None:
            if len(normalize.mean) != self.channels:
                raise ValueError(
                    f"normalize gives {len(normalize.mean)} values; {self.name} images have "  # type: ignore[attr-defined]
                    f"{self.channels} channel{'s' if self.channels > 1 else ''}, one each"
                )
        return self

    @model_validator(mode="after")
    def _valid_scenario(self) -> BenchmarkSpecBase:
        scenario = self.scenario  # type: ignore[attr-defined]  # every subclass has one
        if scenario not in self.scenarios_allowed():
            raise ValueError(
                f"scenario {scenario!r} does not apply to {self.name}; "  # type: ignore[attr-defined]
                f"valid: {', '.join(self.scenarios_allowed())}"
            )
        return self

    def scenarios_allowed(self) -> tuple[str, ...]:
        """The scenarios this benchmark supports (a spec may depend on its options)."""
        return self.allowed_scenarios


class NormalizeSpec(_Strict):
    """Per-channel standardisation: (x - mean) / std, of pixels scaled to [0, 1] (uint8 images)
    or of the values as given (float arrays); one value per channel, or one for all.

    De Lange et al.'s code normalises MNIST with mean 0.1307 and std 0.3081.
    """

    mean: list[Annotated[float, Field(ge=-1e9, le=1e9)]] = Field(min_length=1, max_length=4)
    std: list[Annotated[float, Field(gt=0.0, le=1e9)]] = Field(min_length=1, max_length=4)

    @model_validator(mode="after")
    def _same_channels(self) -> NormalizeSpec:
        if len(self.mean) != len(self.std):
            raise ValueError(f"normalize gives {len(self.mean)} means and {len(self.std)} stds")
        return self


_NORMALIZE_DESCRIPTION = (
    "Per-channel (x - mean) / std of pixels scaled to [0, 1]; null: the benchmark's default."
)


class SplitDigitsSpec(BenchmarkSpecBase):
    """scikit-learn's bundled 8x8 digits, split into tasks of disjoint classes (offline, real)."""

    channels: ClassVar[int | None] = 1
    implementation: ClassVar[str] = "gapwatch_worker.cl.benchmarks.split_digits:build_split_digits"
    name: Literal["split_digits"]
    normalize: NormalizeSpec | None = Field(None, description=_NORMALIZE_DESCRIPTION)
    scenario: Scenario = "class_incremental"
    n_tasks: int = Field(5, ge=2, le=5, description="Tasks of 10 // n_tasks digits each.")
    test_fraction: float = Field(
        0.3, gt=0.0, lt=1.0, description="Share of each class held out as its test split."
    )


class SplitMNISTSpec(BenchmarkSpecBase):
    """MNIST digits in tasks of disjoint classes (5 tasks x 2 by default)."""

    channels: ClassVar[int | None] = 1
    implementation: ClassVar[str] = "gapwatch_worker.cl.benchmarks.mnist:build_split_mnist"
    name: Literal["split_mnist"]
    normalize: NormalizeSpec | None = Field(None, description=_NORMALIZE_DESCRIPTION)
    scenario: Scenario = "class_incremental"
    n_tasks: int = Field(5, ge=2, le=5, description="Tasks of 10 // n_tasks classes each.")


class SplitFashionMNISTSpec(BenchmarkSpecBase):
    """Fashion-MNIST in tasks of disjoint classes (5 tasks x 2 by default)."""

    channels: ClassVar[int | None] = 1
    implementation: ClassVar[str] = "gapwatch_worker.cl.benchmarks.mnist:build_split_fashion_mnist"
    name: Literal["split_fashion_mnist"]
    normalize: NormalizeSpec | None = Field(None, description=_NORMALIZE_DESCRIPTION)
    scenario: Scenario = "class_incremental"
    n_tasks: int = Field(5, ge=2, le=5, description="Tasks of 10 // n_tasks classes each.")


class PermutedMNISTSpec(BenchmarkSpecBase):
    """MNIST with one seeded pixel permutation per task (the first task unpermuted)."""

    channels: ClassVar[int | None] = 1
    implementation: ClassVar[str] = (
        "gapwatch_worker.cl.benchmarks.mnist_domains:build_permuted_mnist"
    )
    allowed_scenarios: ClassVar[tuple[str, ...]] = SHARED_LABEL_SCENARIOS
    name: Literal["permuted_mnist"]
    normalize: NormalizeSpec | None = Field(None, description=_NORMALIZE_DESCRIPTION)
    scenario: Scenario = "domain_incremental"
    n_tasks: int = Field(10, ge=2, le=100)


class RotatedMNISTSpec(BenchmarkSpecBase):
    """MNIST rotated by a fixed angle per task (task t by t x 9 degrees by default)."""

    channels: ClassVar[int | None] = 1
    implementation: ClassVar[str] = (
        "gapwatch_worker.cl.benchmarks.mnist_domains:build_rotated_mnist"
    )
    allowed_scenarios: ClassVar[tuple[str, ...]] = SHARED_LABEL_SCENARIOS
    name: Literal["rotated_mnist"]
    normalize: NormalizeSpec | None = Field(None, description=_NORMALIZE_DESCRIPTION)
    scenario: Scenario = "domain_incremental"
    n_tasks: int = Field(5, ge=2, le=100)
    angles: list[Annotated[float, Field(ge=-360.0, le=360.0)]] | None = Field(
        None, max_length=100, description="Degrees per task; default t x 9 for task t."
    )

    @model_validator(mode="after")
    def _angles_per_task(self) -> RotatedMNISTSpec:
        if self.angles is not None and len(self.angles) != self.n_tasks:
            raise ValueError(f"angles gives {len(self.angles)} angles for {self.n_tasks} tasks")
        return self


class SplitCIFAR10Spec(BenchmarkSpecBase):
    """CIFAR-10 in tasks of disjoint classes (5 tasks x 2 by default)."""

    channels: ClassVar[int | None] = 3
    implementation: ClassVar[str] = "gapwatch_worker.cl.benchmarks.cifar:build_split_cifar10"
    name: Literal["split_cifar10"]
    normalize: NormalizeSpec | None = Field(None, description=_NORMALIZE_DESCRIPTION)
    scenario: Scenario = "class_incremental"
    n_tasks: int = Field(5, ge=2, le=5, description="Tasks of 10 // n_tasks classes each.")


class SplitCIFAR100Spec(BenchmarkSpecBase):
    """CIFAR-100 in 10 tasks of 10 classes or 20 tasks of 5."""

    channels: ClassVar[int | None] = 3
    implementation: ClassVar[str] = "gapwatch_worker.cl.benchmarks.cifar:build_split_cifar100"
    name: Literal["split_cifar100"]
    normalize: NormalizeSpec | None = Field(None, description=_NORMALIZE_DESCRIPTION)
    scenario: Scenario = "class_incremental"
    n_tasks: Literal[10, 20] = 10


# Long-horizon sequences, where loss of plasticity shows (Dohare et al. 2024 train on 800
# permuted tasks): hundreds of tasks are allowed where the data are small and offline.
MAX_LONG_TASKS = 1000


class PermutedDigitsSpec(BenchmarkSpecBase):
    """scikit-learn's bundled 8x8 digits, all 10 classes in every task, offline: each task
    permutes the pixels (`permute: inputs`, Permuted MNIST's recipe, the first task unpermuted)
    or the labels (`permute: labels`: the same inputs, labels shuffled per task, the first task
    unshuffled), with one seeded permutation per task. Hundreds of tasks in one pass
    (`training.online`) show loss of plasticity (Dohare et al., Nature 2024; Elsayed & Mahmood
    2024's label-permuted tasks)."""

    channels: ClassVar[int | None] = 1
    implementation: ClassVar[str] = (
        "gapwatch_worker.cl.benchmarks.permuted_digits:build_permuted_digits"
    )
    allowed_scenarios: ClassVar[tuple[str, ...]] = SHARED_LABEL_SCENARIOS
    name: Literal["permuted_digits"]
    normalize: NormalizeSpec | None = Field(None, description=_NORMALIZE_DESCRIPTION)
    scenario: Scenario = "domain_incremental"
    permute: Literal["inputs", "labels"] = Field(
        "inputs", description="What each task permutes: the pixels, or the class labels."
    )
    n_tasks: int = Field(100, ge=2, le=MAX_LONG_TASKS)
    test_fraction: float = Field(
        0.3, gt=0.0, lt=1.0, description="Share of each class held out as its test split."
    )


class SyntheticSpec(BenchmarkSpecBase):
    """Seeded Gaussian class clusters, offline; `dissimilarity` sets how far tasks drift apart.

    Each task's inputs are its class clusters seen through a task-specific rotation of the input
    space that is `dissimilarity` of the way from the identity to a random rotation: at 0 every
    task lives in the same input space, at 1 each task in an unrelated one. Tasks share their
    class centres, so the natural scenario is domain-incremental (the default); in the
    class-incremental one, low dissimilarity puts two tasks' classes on the same cluster.
    """

    implementation: ClassVar[str] = "gapwatch_worker.cl.benchmarks.synthetic:build_synthetic"
    image_inputs: ClassVar[bool | None] = False
    name: Literal["synthetic"]
    scenario: Scenario = "domain_incremental"
    n_tasks: int = Field(5, ge=2, le=MAX_LONG_TASKS)
    classes_per_task: int = Field(2, ge=2, le=20)
    dim: int = Field(32, ge=2, le=4096, description="Input features.")
    train_per_class: int = Field(500, ge=1, le=100_000)
    test_per_class: int = Field(200, ge=1, le=100_000)
    noise: float = Field(1.0, gt=0.0, le=100.0, description="Standard deviation of a cluster.")
    separation: float = Field(3.0, gt=0.0, le=100.0, description="Spread of cluster centres.")
    dissimilarity: float = Field(0.5, ge=0.0, le=1.0)


MAX_CUSTOM_TASKS = 1000
DATASET_DIGEST_PATTERN = r"^[0-9a-f]{64}$"


class ClassSplitSpec(_Strict):
    """One task per list of class ids (disjoint), in the order given."""

    kind: Literal["classes"]
    tasks: list[Annotated[list[Annotated[int, Field(ge=0, le=100_000)]], Field(min_length=1)]] = (
        Field(min_length=2, max_length=MAX_CUSTOM_TASKS)
    )

    @model_validator(mode="after")
    def _disjoint(self) -> ClassSplitSpec:
        seen: set[int] = set()
        for index, classes in enumerate(self.tasks):
            repeated = seen.intersection(classes) or (len(set(classes)) != len(classes))
            if repeated:
                raise ValueError(
                    f"split.tasks[{index}] repeats a class of its own or of an earlier task"
                )
            seen.update(classes)
        return self


class PermutationSplitSpec(_Strict):
    """Every task holds all classes, its inputs' features in one seeded permutation (the first
    task unpermuted), as Permuted MNIST does."""

    kind: Literal["permutations"]
    n_tasks: int = Field(10, ge=2, le=MAX_CUSTOM_TASKS)


class RotationSplitSpec(_Strict):
    """Every task holds all classes, its images rotated by one angle (degrees) per task."""

    kind: Literal["rotations"]
    angles: list[Annotated[float, Field(ge=-360.0, le=360.0)]] = Field(
        min_length=2, max_length=MAX_CUSTOM_TASKS
    )


SplitSpec = Annotated[
    ClassSplitSpec | PermutationSplitSpec | RotationSplitSpec, Field(discriminator="kind")
]


class CustomBenchmarkSpec(BenchmarkSpecBase):
    """Tasks cut from a dataset uploaded to the run's project (`POST /api/v1/datasets`).

    The same fixed evaluation subsets and scenarios as the built-ins. The API fills in `digest`,
    the content digest of the dataset's arrays, when the run is submitted; the worker refuses a
    file whose content does not match it.
    """

    implementation: ClassVar[str] = "gapwatch_worker.cl.benchmarks.custom:build_custom"
    image_inputs: ClassVar[bool | None] = None
    name: Literal["custom"]
    dataset: int = Field(ge=1, le=2**63 - 1, description="The uploaded dataset's id.")
    digest: str | None = Field(
        None,
        pattern=DATASET_DIGEST_PATTERN,
        description="SHA-256 content digest of the dataset; filled in by the API.",
    )
    split: SplitSpec
    scenario: Scenario = "class_incremental"
    normalize: NormalizeSpec | None = Field(
        None, description="Per-channel (x - mean) / std of the inputs; null: as uploaded."
    )

    def scenarios_allowed(self) -> tuple[str, ...]:
        """Tasks of all classes (permutations, rotations) share their labels."""
        return ALL_SCENARIOS if self.split.kind == "classes" else SHARED_LABEL_SCENARIOS


# The built-in benchmarks, in the order the form lists them; plugins come after (see
# `gapwatch.plugins`, which also finds these through gapwatch's own entry points).
BUILTIN_BENCHMARKS: tuple[type[BenchmarkSpecBase], ...] = (
    SplitDigitsSpec,
    SplitMNISTSpec,
    SplitFashionMNISTSpec,
    PermutedMNISTSpec,
    RotatedMNISTSpec,
    SplitCIFAR10Spec,
    SplitCIFAR100Spec,
    SyntheticSpec,
    PermutedDigitsSpec,
    CustomBenchmarkSpec,
)


# --- Models -----------------------------------------------------------------------------------
# The head follows the scenario: one head over all classes (class-incremental), one per task
# (task-incremental), one shared over a task's classes (domain-incremental).


class ModelSpecBase(ComponentSpec):
    """The base of model specs. `needs_images`: the model takes (C, H, W) inputs only."""

    needs_images: ClassVar[bool] = False


class MLPSpec(ModelSpecBase):
    """Fully connected ReLU network; De Lange et al. use two hidden layers of 400 units."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.models:build_mlp"

    name: Literal["mlp"]
    hidden_sizes: list[Annotated[int, Field(ge=1, le=16_384)]] = Field(
        default_factory=lambda: [400, 400], min_length=1, max_length=16
    )


class CNNSpec(ModelSpecBase):
    """A small conv net: per `channels` entry a 3x3 conv, ReLU, 2x2 max-pool; then `hidden`."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.models:build_cnn"
    needs_images: ClassVar[bool] = True

    name: Literal["cnn"]
    channels: list[Annotated[int, Field(ge=1, le=1024)]] = Field(
        default_factory=lambda: [32, 64], min_length=1, max_length=6
    )
    hidden: int = Field(256, ge=1, le=16_384)


class ResNet18ReducedSpec(ModelSpecBase):
    """The reduced ResNet-18 of the GEM paper (Lopez-Paz & Ranzato 2017), nf base filters."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.models:build_resnet18_reduced"
    needs_images: ClassVar[bool] = True

    name: Literal["resnet18_reduced"]
    nf: int = Field(20, ge=1, le=256)


BUILTIN_MODELS: tuple[type[ModelSpecBase], ...] = (MLPSpec, CNNSpec, ResNet18ReducedSpec)


# --- Strategies -------------------------------------------------------------------------------


class StrategySpecBase(ComponentSpec):
    """The base of strategy specs; `implementation` names a `Strategy` subclass."""


class FinetuneSpec(StrategySpecBase):
    """Plain SGD on each task in turn: the lower bound that forgets."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.strategies.finetune:Finetune"
    name: Literal["finetune"]


class JointSpec(StrategySpecBase):
    """Incremental joint training, the upper bound: batches drawn from every task seen so far."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.strategies.joint:Joint"
    name: Literal["joint"]


class ReplayOptions(StrategySpecBase):
    """Options of the strategies that replay from a memory (a base for plugins too)."""

    buffer_size: int = Field(
        200, ge=1, le=1_000_000, description="Samples kept in memory over the whole run."
    )
    replay_batch_size: int | None = Field(
        None,
        ge=1,
        le=MAX_BATCH_SIZE,
        description="Replayed samples per update; default batch size.",
    )
    # Against the stability gap (Harun & Kanan 2024; Caccia et al. 2022). Each composes with
    # any replay strategy, plugins' included: the engine applies them around the strategy.
    head_init: Literal["default", "mean_embedding"] = Field(
        "default",
        description="mean_embedding: when a task begins, the output weights of each class new "
        "in it are set to the mean unit-length embedding (the output layer's input, the model "
        "in eval mode) of that class's training samples, instead of their random "
        "initialisation; not rescaled, the bias left as it is. Harun & Kanan, 'Overcoming the "
        "Stability Gap in Continual Learning' (TMLR 2024, arXiv 2306.01904), as their released "
        "code does (github.com/yousuf907/SGM, model_sgm.py: init_new_weights).",
    )
    freeze_old_heads: bool = Field(
        False,
        description="The output weights (and biases) of the classes of earlier tasks are not "
        "changed while a later task trains: written back after every optimizer step, so they "
        "stay exact under momentum and weight decay. Harun & Kanan 2024's old output class "
        "freezing (github.com/yousuf907/SGM, partial_freeze.py zeroes those rows' gradients). "
        "Class- and task-incremental only: a domain-incremental run, whose tasks share one "
        "head, is refused when it starts.",
    )
    soft_targets: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="s: each new sample's target is (1 - s) * one-hot + s spread evenly over "
        "the classes seen so far that its logits leave unmasked (0: one-hot targets; replayed "
        "samples keep one-hot targets). Label smoothing over the seen classes: a static "
        "stand-in for Harun & Kanan 2024's dynamic soft targets, which their code builds from "
        "running means of the model's own softmax outputs (github.com/yousuf907/SGM, "
        "model_sgm.py: soft_cross_entropy).",
    )
    lora_rank: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="From the second task on, every parameter but the output layer's is "
        "frozen and each hidden nn.Linear learns through a low-rank adapter W x + B A x of this "
        "rank (LoRA, Hu et al., ICLR 2022: B zero and A Gaussian at the start, alpha = r), as "
        "Harun & Kanan 2024 train only adapters and the head. One set of adapters learns "
        "from the second task to the last (their released model_sgm.py merges the adapters "
        "into the weights after each task and starts fresh ones; not done here). null: no "
        "adapters.",
    )


class ERSpec(ReplayOptions):
    """Experience replay: each update mixes the new batch with one drawn from a memory buffer."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.strategies.er:ExperienceReplay"
    name: Literal["er"]
    buffer_policy: Literal["reservoir", "class_balanced", "task_end"] = Field(
        "reservoir",
        description="reservoir: every batch is offered, after its update, to a uniform sample "
        "of the stream (the current task included); class_balanced: every batch is offered to "
        "equal slots per class; task_end: nothing is offered per batch: at each task's end its "
        "whole train set is offered to equal slots per class seen so far (older classes give "
        "up slots at random), so only earlier tasks are replayed and nothing during the first "
        "task. task_end is De Lange et al.'s memory (ICLR 2023; github.com/mattdl/"
        "ContinualEvaluation, src/methods/replay.py: ERPlugin.after_training_exp updates an "
        "Avalanche ClassBalancedBuffer(adaptive_size=True) with the finished experience).",
    )
    replay_weight: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="None: one cross-entropy over the new and replayed rows together. w: "
        "(1-w)*CE(new) + w*CE(replayed), and (1-w)*CE(new) while the memory is empty. This is "
        "De Lange et al.'s Lw_new = 1 - w (src/methods/replay.py, ERStrategy: Lw_new * new + "
        "(1 - Lw_new) * memory loss; the new term keeps its Lw_new when no memory rows follow); "
        "their reproduce/configs/splitmnist_ER.yaml has Lw_new 0.3 (w = 0.7), CIFAR10_ER.yaml "
        "0.7 (w = 0.3).",
    )


class ERACESpec(ReplayOptions):
    """ER with asymmetric cross-entropy (Caccia et al. 2022): new samples only push among the
    classes of their batch, so they do not pull old classes' logits down."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.strategies.er_ace:ERACE"
    name: Literal["er_ace"]
    cosine_scale: float | None = Field(
        None,
        gt=0.0,
        le=1000.0,
        description="Replace the output layer with a cosine classifier: logits are this scale "
        "times the cosine between the features and each class's weights, without bias, as "
        "Caccia et al.'s released code does (github.com/pclucas14/AML, model.py: distLinear, "
        "scale 10); null: the linear output layer.",
    )


class AGEMSpec(StrategySpecBase):
    """Averaged GEM (Chaudhry et al. 2019): project the update so the loss on memory cannot rise."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.strategies.agem:AGEM"
    name: Literal["agem"]
    buffer_size: int = Field(
        256, ge=1, le=1_000_000, description="Memory samples kept over the whole run."
    )
    reference_batch_size: int = Field(
        256, ge=1, le=MAX_BATCH_SIZE, description="Memory samples of the reference gradient."
    )


class EWCSpec(StrategySpecBase):
    """Elastic weight consolidation (Kirkpatrick et al. 2017); online EWC with `online`."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.strategies.ewc:EWC"
    name: Literal["ewc"]
    ewc_lambda: float = Field(100.0, ge=0.0, le=1e9, description="Weight of the penalty.")
    online: bool = Field(False, description="One running Fisher (Schwarz et al. 2018).")
    gamma: float = Field(1.0, ge=0.0, le=1.0, description="Online EWC's decay of the old Fisher.")
    fisher_samples: int = Field(
        1024, ge=1, le=1_000_000, description="Train samples for the empirical Fisher."
    )


class SISpec(StrategySpecBase):
    """Synaptic intelligence (Zenke et al. 2017)."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.strategies.si:SI"
    name: Literal["si"]
    si_c: float = Field(0.1, ge=0.0, le=1e9, description="Weight of the penalty.")
    # Zenke et al.'s 1e-3 came with Adam; under plain SGD it lets the penalty overshoot
    # (lr * 2c * importance > 2). 0.1 is van de Ven et al.'s value.
    epsilon: float = Field(0.1, gt=0.0, le=1.0, description="Damping of the importance.")


class LwFSpec(StrategySpecBase):
    """Learning without forgetting (Li & Hoiem 2017): distil the previous model's outputs."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.strategies.lwf:LwF"
    name: Literal["lwf"]
    alpha: float = Field(1.0, ge=0.0, le=1e6, description="Weight of the distillation loss.")
    temperature: float = Field(2.0, gt=0.0, le=100.0)


class DERSpec(ReplayOptions):
    """Dark experience replay (Buzzega et al. 2020): replay logits; DER++ also replays labels."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.strategies.der:DarkExperienceReplay"
    name: Literal["der", "derpp"]
    alpha: float = Field(0.3, ge=0.0, le=1e6, description="Weight of the logit-matching loss.")
    beta: float = Field(0.5, ge=0.0, le=1e6, description="DER++ only: weight of replayed labels.")


class GEMSpec(StrategySpecBase):
    """Gradient episodic memory (Lopez-Paz & Ranzato 2017): each update solves a quadratic
    program so that, to first order, the loss on no earlier task's memory rises."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.strategies.gem:GEM"
    name: Literal["gem"]
    memories_per_task: int = Field(
        256,
        ge=1,
        le=100_000,
        description="Samples of each finished task kept in memory (a uniform sample of its "
        "train set, drawn at its end); each update takes one gradient on each earlier task's "
        "whole memory. De Lange et al.'s patterns_per_exp = mem_size // tasks (github.com/"
        "mattdl/ContinualEvaluation, main.py; src/methods/gem_standard.py).",
    )
    memory_strength: float = Field(
        0.5,
        ge=0.0,
        le=1e3,
        description="gamma: the lower bound of the dual variables of GEM's quadratic program, "
        "as in the released code (github.com/facebookresearch/GradientEpisodicMemory, "
        "model/gem.py: project2cone2, solved with quadprog, 1e-3 added to the diagonal); 0 "
        "gives the exact projection onto the constraints; larger values push the update "
        "further towards the memories' gradients.",
    )


class CBPSpec(StrategySpecBase):
    """Continual backpropagation (Dohare et al., Nature 2024): plain SGD on the current task
    that, after every update, reinitialises a small share of each hidden layer's mature units
    of lowest contribution utility (their outgoing weights set to zero)."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.strategies.cbp:ContinualBackprop"
    name: Literal["cbp"]
    replacement_rate: float = Field(
        1e-4,
        ge=0.0,
        le=1.0,
        description="Units reinitialised per update, as a share of each hidden layer's units "
        "(a fraction accumulates until a whole unit is due).",
    )
    decay_rate: float = Field(
        0.99, ge=0.0, lt=1.0, description="Decay of the running average of each unit's utility."
    )
    maturity_threshold: int = Field(
        100,
        ge=0,
        le=MAX_ITERATIONS_PER_TASK,
        description="Updates a unit must have lived before it can be replaced.",
    )


class L2InitSpec(StrategySpecBase):
    """L2-Init (Kumar et al. 2023): plain SGD on the current task with a penalty
    lambda * ||theta - theta_0||^2 pulling the weights toward their initial values."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.strategies.l2_init:L2Init"
    name: Literal["l2_init"]
    l2_init_lambda: float = Field(0.01, ge=0.0, le=1e6, description="Weight of the penalty.")


class ShrinkPerturbSpec(StrategySpecBase):
    """Shrink & Perturb (Ash & Adams 2020): plain SGD on the current task; the weights are
    multiplied by `shrink` and perturbed by Gaussian noise of std `noise_std`, after every
    update or at each task start. The defaults are Dohare et al.'s (Nature 2024) Continual
    ImageNet setting (released code lop/imagenet/cfg/snp.json: step size 0.01 x weight decay
    1e-5, perturbation 1e-5, after every update)."""

    implementation: ClassVar[str] = "gapwatch_worker.cl.strategies.shrink_perturb:ShrinkPerturb"
    name: Literal["shrink_perturb"]
    shrink: float = Field(
        0.9999999,
        gt=0.0,
        le=1.0,
        description="Multiplier of the weights (1 - step size x weight decay in Dohare et al.).",
    )
    noise_std: float = Field(1e-5, ge=0.0, le=10.0, description="Std of the added noise.")
    at: Literal["update", "task_start"] = Field(
        "update", description="When: after every update, or when each task after the first begins."
    )


BUILTIN_STRATEGIES: tuple[type[StrategySpecBase], ...] = (
    FinetuneSpec,
    JointSpec,
    ERSpec,
    ERACESpec,
    AGEMSpec,
    GEMSpec,
    EWCSpec,
    SISpec,
    LwFSpec,
    DERSpec,
    CBPSpec,
    L2InitSpec,
    ShrinkPerturbSpec,
)

# --- Optimizer, training length, evaluation plan ----------------------------------------------


class OptimizerSpec(_Strict):
    """The optimizer; it is rebuilt at no task boundary, as in the stability-gap experiments.

    upgd: utility-based perturbed gradient descent (Elsayed & Mahmood, ICLR 2024), against
    loss of plasticity and forgetting: each weight's update (gradient plus Gaussian noise) is
    scaled by one minus its scaled utility, so useful weights are protected and useless ones
    are perturbed back into play.
    """

    name: Literal["sgd", "adam", "upgd"] = "sgd"
    lr: float = Field(0.01, gt=0.0, le=10.0)
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="SGD only.")
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    beta_utility: float = Field(
        0.999, ge=0.0, lt=1.0, description="UPGD only: decay of each weight's running utility."
    )
    sigma: float = Field(
        0.001, ge=0.0, le=10.0, description="UPGD only: std of the Gaussian perturbation."
    )

    @model_validator(mode="after")
    def _momentum_is_sgd_only(self) -> OptimizerSpec:
        if self.name != "sgd" and self.momentum:
            raise ValueError(f"momentum applies to sgd only, not {self.name}")
        return self


class TrainingSpec(_Strict):
    """How long each task is trained: a number of iterations, or of epochs over its train split."""

    iterations_per_task: int | None = Field(None, ge=1, le=MAX_ITERATIONS_PER_TASK)
    epochs_per_task: float | None = Field(None, gt=0.0, le=10_000.0)
    online: bool = Field(
        False,
        description="One pass over each task's train split, every sample once, in a seeded "
        "order (the last batch may be smaller); give no iterations_per_task or epochs_per_task.",
    )
    batch_size: int = Field(32, ge=1, le=MAX_BATCH_SIZE)

    @model_validator(mode="after")
    def _one_length(self) -> TrainingSpec:
        given = [
            name
            for name in ("iterations_per_task", "epochs_per_task")
            if getattr(self, name) is not None
        ]
        if self.online and given:
            raise ValueError(f"online training makes one pass per task: give no {given[0]}")
        if len(given) == 2:
            raise ValueError("give iterations_per_task or epochs_per_task, not both")
        if not given and not self.online:
            self.iterations_per_task = 500
        return self

    def updates_per_task(self, n_train: int) -> int:
        """Updates on a task of `n_train` samples: iterations_per_task, ceil(epochs * n_train /
        batch_size), or ceil(n_train / batch_size) online. The engine trains this many; the
        API's resource estimate counts them."""
        if self.online:
            return max(1, math.ceil(n_train / self.batch_size))
        if self.iterations_per_task is not None:
            return self.iterations_per_task
        assert self.epochs_per_task is not None  # the validator guarantees one of the two
        # Rounded first so that float noise (0.3 * 100 / 10 = 3.0000000000000004) adds no update.
        return max(1, math.ceil(round(self.epochs_per_task * n_train / self.batch_size, 9)))


class EvaluationSpec(_Strict):
    """Continual evaluation: every task's fixed test subset, every `every` iterations."""

    every: int = Field(
        1, ge=1, le=MAX_ITERATIONS_PER_TASK, description="Iterations between evaluations."
    )
    subset_size: int = Field(
        1000,
        ge=1,
        le=MAX_EVAL_SUBSET,
        description="Test samples per task, drawn once per run (seeded) and kept all run long.",
    )
    include_unseen: bool = Field(
        False, description="Also evaluate tasks not trained yet (for forward transfer)."
    )
    gap_window: int = Field(
        200,
        ge=1,
        le=MAX_ITERATIONS_PER_TASK,
        description="Stability gap: iterations after each task boundary in which the dip is "
        "looked for (the first min(task length, gap_window)).",
    )
    diagnostics: bool = Field(
        False,
        description="Plasticity diagnostics (diag/... keys) at every evaluation: dormant units, "
        "effective and stable rank per hidden layer, weight magnitudes, gradient norm and the "
        "plasticity of the last update (METRICS.md).",
    )
    dormant_threshold: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="tau: a unit is dormant when its mean |activation| on the probe batch, over "
        "its layer's mean, is at most this.",
    )
    probe_size: int = Field(
        128,
        ge=1,
        le=4096,
        description="Rows of the current task's evaluation subset the diagnostics are computed "
        "on (the first ones: a seeded draw, fixed all run). The ranks are at most this; each "
        "evaluation solves one eigenvalue problem of min(probe_size, units) per hidden layer. "
        "At a task boundary the current task is the one about to start (the boundary is its "
        "first step), after the last task the last one.",
    )


def metric_key_eval_acc(task: int) -> str:
    """Key of task `task`'s (0-based) continual-evaluation accuracy, a fraction in [0, 1]."""
    return f"eval/acc/task_{task}"


def metric_key_eval_loss(task: int) -> str:
    """Key of task `task`'s (0-based) continual-evaluation mean cross-entropy."""
    return f"eval/loss/task_{task}"


TRAIN_LOSS_KEY = "train/loss"
TRAIN_LR_KEY = "train/lr"
ITER_PER_S_KEY = "sys/iter_per_s"
EVENT_TASK_START = "task_start"
EVENT_TASK_END = "task_end"

# Plasticity diagnostics (METRICS.md "Plasticity diagnostics"), at evaluation steps. Per-layer
# keys end in the layer's name: `hidden_<i>` for the i-th hidden activation (0-based, in
# forward order) and `layer_<i>` for the i-th module with a weight (Linear or Conv, in module
# order), so that one model's keys are the same in every run.
DIAG_PREFIX = "diag/"
DIAG_DORMANT = "diag/dormant"  # share of dormant units over all hidden layers
DIAG_GRAD_NORM = "diag/grad_norm"  # ||g||_2 of the last update, all parameters
DIAG_PLASTICITY = "diag/plasticity"  # clamp(1 - loss_after / loss_before, 0, 1) of it


def diag_key(quantity: str, layer: str) -> str:
    """Key of a per-layer diagnostic: quantity is dormant, eff_rank, stable_rank (of a hidden
    layer's features) or w_abs, w_norm (mean |w| and ||w||_2 of a layer's weight)."""
    return f"diag/{quantity}/{layer}"


# Cost of a run (METRICS.md "Cost of a run"). At each task's end step e_k, `cost/task/<q>` is
# task k's share and `cost/run/<q>` the run's total so far (peaks: the maximum so far), so the
# last `cost/run/...` point of a run is its total.
COST_QUANTITIES: tuple[str, ...] = (
    "updates",  # optimizer steps
    "samples_new",  # rows of the task's own batches
    "samples_replayed",  # rows beyond them through the model in training (memories, extras)
    "train_flops",  # forward + backward FLOPs of training (torch.utils.flop_counter)
    "eval_flops",  # FLOPs of continual evaluation and diagnostics
    "peak_accelerator_bytes",  # torch.cuda.max_memory_allocated; 0 on a CPU
    "peak_host_bytes",  # the process's resident memory, highest seen
    "replay_bytes",  # bytes of the tensors the strategy keeps (memories, anchors, old models)
    "train_seconds",
    "eval_seconds",
    "wall_seconds",
)


def cost_key(scope: Literal["task", "run"], quantity: str) -> str:
    """`cost/task/<quantity>` (one task's) or `cost/run/<quantity>` (the run's so far)."""
    return f"cost/{scope}/{quantity}"
