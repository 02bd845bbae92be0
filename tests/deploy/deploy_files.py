"""Readers for the deployment files: compose YAML (with Compose's tags, merge and
interpolation), Dockerfiles, .env files, and the Compose Specification's JSON schema.

No Docker engine runs where the tests run, so these implement the small part of Compose's and
BuildKit's behaviour that the files use, and the tests assert on what they return.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
COMPOSE_CPU_FILE = REPO_ROOT / "docker-compose.cpu.yml"
BACKEND_DOCKERFILE = REPO_ROOT / "backend" / "Dockerfile"
WORKER_DOCKERFILE = REPO_ROOT / "worker" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
SELF_HOSTING_DOC = REPO_ROOT / "docs" / "self-hosting.md"

# The Compose Specification's JSON schema, the one `docker compose` validates files against,
# vendored verbatim from https://github.com/compose-spec/compose-spec, file
# schema/compose-spec.json at commit b2835e8acc1e42e7aecbc27a9bc4a1fc66ef21ba (32,993 bytes).
# To update: replace the file with a newer version of it and record the new commit and digest.
COMPOSE_SCHEMA = Path(__file__).with_name("compose-spec.json")
COMPOSE_SCHEMA_COMMIT = "b2835e8acc1e42e7aecbc27a9bc4a1fc66ef21ba"
COMPOSE_SCHEMA_SHA256 = "91ae91d24640d45634c9d4b5f4e3a5ce1b6b6da38bc06b27e2a04891f81f32da"


# ---------------------------------------------------------------------------------------------
# Compose YAML: the !reset and !override tags, the merge of an override file, interpolation.
# ---------------------------------------------------------------------------------------------


class Reset:
    """`!reset`: the override file removes this attribute."""

    def __repr__(self) -> str:
        return "!reset"


@dataclass
class Override:
    """`!override value`: the override file replaces this attribute instead of merging."""

    value: Any


class ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus Compose's two custom tags."""


ComposeLoader.add_constructor("!reset", lambda _loader, _node: Reset())
ComposeLoader.add_multi_constructor(
    "!override",
    lambda loader, _suffix, node: Override(_construct_plain(loader, node)),
)


def _construct_plain(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


def load_compose_text(text: str) -> dict[str, Any]:
    """A compose document as Compose reads it, with tags kept as Reset / Override objects."""
    return yaml.load(text, Loader=ComposeLoader)  # a SafeLoader subclass: no arbitrary objects


def load_compose(path: Path) -> dict[str, Any]:
    return load_compose_text(path.read_text())


def untagged(document: Any) -> Any:
    """The document as the JSON schema sees a lone override file: !reset is null."""
    if isinstance(document, Reset):
        return None
    if isinstance(document, Override):
        return untagged(document.value)
    if isinstance(document, dict):
        return {key: untagged(value) for key, value in document.items()}
    if isinstance(document, list):
        return [untagged(value) for value in document]
    return document


# Attributes an override file replaces rather than appends to (Compose's merge rules).
_REPLACED_SEQUENCES = {"command", "entrypoint", "test"}


def merge(base: Any, override: Any, key: str | None = None) -> Any:
    """Compose's merge of `override` onto `base`: mappings merge, sequences append (except
    commands), scalars are replaced, !reset removes and !override replaces."""
    if isinstance(override, Override):
        return untagged(override.value)
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            if isinstance(value, Reset):
                merged.pop(name, None)
            elif name in merged:
                merged[name] = merge(merged[name], value, name)
            else:
                merged[name] = untagged(value)
        return merged
    if isinstance(base, list) and isinstance(override, list) and key not in _REPLACED_SEQUENCES:
        return base + untagged(override)
    return untagged(override)


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


@dataclass(frozen=True)
class Reference:
    """One `${NAME...}` in a compose value."""

    name: str
    operator: str  # "", ":-", "-", ":?", "?", ":+", "+"
    argument: str  # the default or the error message, itself possibly interpolated


def _parse_braced(text: str, start: int) -> tuple[Reference, int]:
    """Parse `${...}` whose `${` starts at `start`; returns it and the index after `}`."""
    match = re.compile(_NAME).match(text, start + 2)
    if not match:
        raise ValueError(f"bad interpolation at {text[start:]!r}")
    name, index = match.group(), match.end()
    operator = ""
    for candidate in (":-", ":?", ":+", "-", "?", "+"):
        if text.startswith(candidate, index):
            operator = candidate
            index += len(candidate)
            break
    depth, argument_start = 1, index
    while depth:
        if index >= len(text):
            raise ValueError(f"unclosed interpolation in {text!r}")
        if text.startswith("$$", index):
            index += 2
            continue
        if text.startswith("${", index):
            depth += 1
            index += 2
            continue
        if text[index] == "}":
            depth -= 1
        index += 1
    return Reference(name, operator, text[argument_start : index - 1]), index


def references(text: str) -> list[Reference]:
    """Every `${NAME...}` in `text`, nested ones (in defaults) included."""
    found: list[Reference] = []
    index = 0
    while index < len(text):
        if text.startswith("$$", index):
            index += 2
        elif text.startswith("${", index):
            reference, index = _parse_braced(text, index)
            found.append(reference)
            found.extend(references(reference.argument))
        elif text[index] == "$" and re.compile(_NAME).match(text, index + 1):
            raise ValueError(f"unbraced variable in {text!r}: write ${{NAME}}")
        else:
            index += 1
    return found


class MissingVariable(ValueError):
    """A `${NAME:?message}` whose variable is unset or empty."""


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of one string with the project environment `env`."""
    out: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith("$$", index):
            out.append("$")
            index += 2
        elif text.startswith("${", index):
            reference, index = _parse_braced(text, index)
            out.append(_resolve(reference, env))
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


def _resolve(reference: Reference, env: dict[str, str]) -> str:
    value = env.get(reference.name)
    unset_or_empty = not value
    if reference.operator == ":-":
        return interpolate(reference.argument, env) if unset_or_empty else str(value)
    if reference.operator == "-":
        return interpolate(reference.argument, env) if value is None else value
    if reference.operator == ":+":
        return "" if unset_or_empty else interpolate(reference.argument, env)
    if reference.operator == "+":
        return "" if value is None else interpolate(reference.argument, env)
    if reference.operator == ":?" and unset_or_empty:
        raise MissingVariable(f"{reference.name}: {interpolate(reference.argument, env)}")
    if reference.operator == "?" and value is None:
        raise MissingVariable(f"{reference.name}: {interpolate(reference.argument, env)}")
    return value or ""


def interpolate_document(document: Any, env: dict[str, str]) -> Any:
    """Interpolate every string value of a loaded compose document (keys are left alone)."""
    if isinstance(document, str):
        return interpolate(document, env)
    if isinstance(document, dict):
        return {key: interpolate_document(value, env) for key, value in document.items()}
    if isinstance(document, list):
        return [interpolate_document(value, env) for value in document]
    return document


def all_references(document: Any) -> list[Reference]:
    """Every interpolation in every string value of a document."""
    if isinstance(document, str):
        return references(document)
    if isinstance(document, Override):
        return all_references(document.value)
    if isinstance(document, dict):
        return [ref for value in document.values() for ref in all_references(value)]
    if isinstance(document, list):
        return [ref for value in document for ref in all_references(value)]
    return []


@cache
def compose_schema() -> dict[str, Any]:
    return json.loads(COMPOSE_SCHEMA.read_text())


def schema_digest() -> str:
    return hashlib.sha256(COMPOSE_SCHEMA.read_bytes()).hexdigest()


def schema_errors(document: Any) -> list[str]:
    """What the Compose Specification's schema rejects in `document` (empty: valid)."""
    schema = compose_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(untagged(document))
    ]


def split_image(image: str) -> tuple[str, str | None]:
    """`name[:tag]` (no digests here) as (name, tag)."""
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return image, None
    return name, tag


def volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """A service's named-volume mounts, short syntax, as {volume name: target path}."""
    mounts = {}
    for entry in service.get("volumes", []):
        source, target, *_ = entry.split(":")
        mounts[source] = target
    return mounts


# ---------------------------------------------------------------------------------------------
# Dockerfiles
# ---------------------------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str  # upper case
    arguments: str  # the rest of the (joined) line
    line: int
    ignored_rules: set[str] = field(default_factory=set)  # from `# hadolint ignore=` above it

    def json_arguments(self) -> list[str] | None:
        """The exec-form (JSON array) arguments, or None for the shell form."""
        text = self.arguments.strip()
        if not text.startswith("["):
            return None
        return json.loads(text)

    def flags(self) -> tuple[dict[str, str], str]:
        """Leading `--name=value` flags and the rest: `COPY --from=x a b` -> ({from: x}, 'a b')."""
        found: dict[str, str] = {}
        rest = self.arguments.strip()
        while rest.startswith("--"):
            token, _, rest = rest.partition(" ")
            name, _, value = token[2:].partition("=")
            found[name] = value
            rest = rest.lstrip()
        return found, rest


@dataclass
class Stage:
    base: str
    alias: str | None
    instructions: list[Instruction]


def parse_dockerfile(path: Path) -> tuple[list[Instruction], list[Stage]]:
    """Instructions (continuation lines joined, comments dropped) and the stages they form."""
    instructions: list[Instruction] = []
    pending_ignores: set[str] = set()
    buffer = ""
    start_line = 0
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            ignore = re.match(r"#\s*hadolint\s+ignore=([A-Z0-9,]+)", stripped)
            if ignore:
                pending_ignores |= set(ignore.group(1).split(","))
            continue
        if buffer and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not buffer:
            start_line = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        buffer += stripped
        keyword, _, arguments = buffer.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip(), start_line))
        instructions[-1].ignored_rules = pending_ignores
        pending_ignores = set()
        buffer = ""
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            _, rest = instruction.flags()
            words = rest.split()
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], alias, []))
        elif stages:
            stages[-1].instructions.append(instruction)
    return instructions, stages


def final_stage(path: Path) -> Stage:
    """The last stage of a Dockerfile: the image that runs."""
    return parse_dockerfile(path)[1][-1]


def only(stage: Stage, keyword: str) -> list[Instruction]:
    """A stage's instructions of one kind."""
    return [i for i in stage.instructions if i.keyword == keyword]


def global_args(instructions: list[Instruction]) -> dict[str, str | None]:
    """The ARGs before the first FROM, with their defaults."""
    args: dict[str, str | None] = {}
    for instruction in instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG":
            name, sep, default = instruction.arguments.partition("=")
            args[name.strip()] = default.strip() if sep else None
    return args


def shell_words(instruction: Instruction) -> list[str]:
    """The arguments of an instruction as a shell would split them."""
    as_json = instruction.json_arguments()
    return as_json if as_json is not None else shlex.split(instruction.arguments)


# ---------------------------------------------------------------------------------------------
# .env files
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvLine:
    name: str
    value: str
    active: bool  # False: shown commented out (`# NAME=default`)
    line: int


def parse_env_example(path: Path) -> dict[str, EnvLine]:
    """`NAME=value` and `# NAME=value` lines of a dotenv file, by name (last one wins)."""
    found: dict[str, EnvLine] = {}
    pattern = re.compile(r"^(#\s?)?([A-Z][A-Z0-9_]*)=(.*)$")
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        match = pattern.match(raw)
        if match:
            commented, name, value = match.groups()
            found[name] = EnvLine(name, value.strip(), commented is None, number)
    return found


# ---------------------------------------------------------------------------------------------
# Gapwatch's own variables
# ---------------------------------------------------------------------------------------------

# Environment variables that the code reads directly rather than through Settings: the dataset
# store's (GAPWATCH_DATA_DIR, _DATASET_MIRROR, _DATASET_OFFLINE) and the migrations folder's.
DIRECT_VARIABLE_SOURCES = (
    REPO_ROOT / "backend" / "gapwatch" / "datasets" / "store.py",
    REPO_ROOT / "backend" / "gapwatch" / "server" / "migrate.py",
)


def settings_variables() -> dict[str, str]:
    """{GAPWATCH_<FIELD>: field name} for every field of gapwatch.config.Settings."""
    from gapwatch.config import Settings

    prefix = Settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper(): name for name in Settings.model_fields}


def direct_variables() -> set[str]:
    """GAPWATCH_* names that the code reads from os.environ itself (string literals)."""
    names: set[str] = set()
    for source in DIRECT_VARIABLE_SOURCES:
        names |= set(re.findall(r"[\"'](GAPWATCH_[A-Z0-9_]+)[\"']", source.read_text()))
    return names


def known_variables() -> set[str]:
    """Every GAPWATCH_* variable that some part of Gapwatch reads."""
    return set(settings_variables()) | direct_variables()
