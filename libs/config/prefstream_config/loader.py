"""Resolve the configuration: defaults < YAML file < environment < ``-o key value``.

The YAML may reference ``${VAR}`` or ``${VAR:-default}`` as NAT configs do. Environment
overrides are ``PREFSTREAM__SECTION__KEY=value`` (double underscores separate levels).
Override values are parsed as YAML scalars, so ``5``, ``true`` and ``[a, b]`` get their types;
secrets (see :mod:`prefstream_config.secrets`) keep their text as written, in the file too.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from prefstream_config.errors import ConfigError
from prefstream_config.model import PrefstreamConfig
from prefstream_config.secrets import is_secret_path, secret_paths

log = logging.getLogger(__name__)

ENV_PREFIX = "PREFSTREAM__"
CONFIG_ENV = "PREFSTREAM_CONFIG"

IGNORED_SECTIONS = frozenset(
    {
        "workflow",
        "eval",
        "general",
        "functions",
        "function_groups",
        "embedders",
        "memory",
        "retrievers",
        "object_stores",
        "authentication",
        "ttc_strategies",
        "middleware",
        "telemetry",
    }
)
"""NAT sections prefstream has no use for: dropped with a notice so a NAT config loads as is."""

SECRET_PATHS = secret_paths(PrefstreamConfig)
_SECRET_KEYS = frozenset(path[-1] for path in SECRET_PATHS)
_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"


class _SecretTextLoader(yaml.SafeLoader):
    """Reads a plain scalar under a secret's key as the text written: ``0123``, ``1_000``
    or ``yes`` would otherwise become 83, 1000 or true before the model sees them."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        for key_node, value_node in node.value:
            if (
                isinstance(key_node, yaml.ScalarNode)
                and key_node.value in _SECRET_KEYS
                and isinstance(value_node, yaml.ScalarNode)
                and value_node.tag != _NULL_TAG
            ):
                value_node.tag = _STR_TAG
        return super().construct_mapping(node, deep=deep)


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(text: str, environ: Mapping[str, str]) -> str:
    """Replace ``${VAR}``/``${VAR:-default}`` (default when unset or empty, as in a shell)."""
    return _VAR.sub(lambda m: environ.get(m.group(1)) or m.group(2) or "", text)


def parse_value(text: str) -> Any:
    """Type an override the way YAML would type it in the file."""
    try:
        return yaml.safe_load(text) if text.strip() else text
    except yaml.YAMLError:
        return text


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    if not all(keys):
        raise ConfigError(f"invalid key {dotted!r}: use a dotted path such as kafka.partitions")
    node = data
    for i, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            where = ".".join(keys[: i + 1])
            raise ConfigError(f"{dotted}: cannot set a key inside {where}, which is not a section")
        node = child
    node[keys[-1]] = value


def env_overrides(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(dotted, value) for _, dotted, value in _env_variables(environ)]


def _env_variables(environ: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(variable name, dotted key, value) of every ``PREFSTREAM__...`` variable."""
    found = []
    for name, value in sorted(environ.items()):
        if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            dotted = ".".join(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
            found.append((name, dotted, value))
    return found


def _origin(loc: str, origins: Mapping[str, str]) -> str | None:
    """The environment variable that set ``loc`` (or a key inside it, or its section)."""
    for dotted, name in origins.items():
        if loc == dotted or loc.startswith(dotted + ".") or dotted.startswith(loc + "."):
            return name
    return None


def read_yaml(path: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    stream = io.StringIO(expand_env(text, environ))
    stream.name = str(path)  # YAML errors then name the file, not "<unicode string>"
    try:
        data = yaml.load(stream, Loader=_SecretTextLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping of sections at the top level")
    return data


def format_validation_error(exc: ValidationError, origins: Mapping[str, str] | None = None) -> str:
    """One line per error, by dotted key; a key set by an environment variable is named by
    the variable (``origins``: dotted key -> variable name), which is what the user wrote."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        variable = _origin(loc, origins or {})
        if variable is not None:
            loc = f"{variable} ({loc})"
        got = err.get("input")
        if is_secret_path([str(p) for p in err["loc"]], SECRET_PATHS):
            lines.append(f"  {loc}: must be text; quote it in YAML (its value is not shown)")
            continue
        shown = (
            ""
            if err["type"] in {"missing", "extra_forbidden"} or isinstance(got, dict)
            else f" (got {got!r})"
        )
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"  {loc}: {msg}{shown}")
    return "invalid configuration:\n" + "\n".join(lines)


def load_config(
    path: str | Path | None = None,
    overrides: Iterable[tuple[str, str]] = (),
    environ: Mapping[str, str] | None = None,
    notices: list[str] | None = None,
) -> PrefstreamConfig:
    """Build the resolved config; raises :class:`ConfigError` naming the dotted path at fault."""
    env = os.environ if environ is None else environ
    if path is None and env.get(CONFIG_ENV):
        path = env[CONFIG_ENV]
    data: dict[str, Any] = read_yaml(Path(path), env) if path is not None else {}
    for section in sorted(IGNORED_SECTIONS & data.keys()):
        del data[section]
        notice = f"ignoring section '{section}': prefstream does not use it"
        log.info(notice)
        if notices is not None:
            notices.append(notice)
    variables = _env_variables(env)
    origins = {dotted: name for name, dotted, _ in variables}
    for name, dotted, value in [*variables, *(("", d, v) for d, v in overrides)]:
        secret = is_secret_path(dotted.split("."), SECRET_PATHS)
        try:
            set_dotted(data, dotted, value if secret else parse_value(value))
        except ConfigError as exc:
            raise ConfigError(f"environment variable {name}: {exc}" if name else str(exc)) from None
        if not name:
            origins.pop(dotted, None)  # an -o/--set override replaced the variable's value
    try:
        return PrefstreamConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, origins)) from None
