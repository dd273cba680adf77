"""Reading scenario YAML and wording its errors: duplicate keys are errors, nodes keep their line
numbers, and every message is one line, `file: field.path: why (line N)` (`Where`).

Every YAML isoplan reads from a user (scenario files, book clients, crossover examples, `--set`
values) goes through `parse_yaml`, which reads it within a budget checked before any value is
built: at most `MAX_YAML_BYTES` of text, `MAX_YAML_NODES` nodes once aliases are expanded (an
alias is a reference: a kilobyte of nested aliases, "a billion laughs", would otherwise expand to
billions of values in whatever walks the data) and `MAX_YAML_DEPTH` levels of nesting; an alias
to itself is refused. Dates are left as their text for the schema to check (`schema.Day`), so an
impossible date such as 2026-02-30 is a field's error, not the YAML library's exception.
"""

from __future__ import annotations

import difflib
import types
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from planner.errors import InputError
from planner.limits import MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES
from planner.scenario.schema import ScenarioFile, YearIncome, shown

Loc = tuple[int | str, ...]


# ----------------------------------------------------------------------------------------------
# Reading YAML (duplicate keys are errors; nodes keep line numbers for messages)
# ----------------------------------------------------------------------------------------------


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int) -> None:
        super().__init__(key, line)
        self.key, self.line = key, line


# libyaml's parser where PyYAML has it (it composes a file five times faster: a file at the byte
# budget in about 2 s instead of 11); the same safe constructors either way.
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc]
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # unhashable: the constructor reports it
            continue
        if duplicate:
            raise _DuplicateKey(key, key_node.start_mark.line + 1)
    return loader.construct_mapping(node, deep=True)


def _timestamp_text(loader: _Loader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_text)


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    return parse_yaml(read_yaml_text(path), str(path))


def read_yaml_text(path: Path) -> str:
    """A YAML file's text, refused unread when it is over the byte budget."""
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise InputError(f"{path}: {_too_big(size)}")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read file: {exc}") from None


def _too_big(size: int) -> str:
    return f"{size:,} bytes, more than a scenario file may hold ({MAX_YAML_BYTES:,})"


class _Budget(Exception):
    """The YAML is over the node or depth budget, or an alias refers to itself."""

    def __init__(self, why: str, node: yaml.Node) -> None:
        super().__init__(why)
        self.why, self.line = why, node.start_mark.line + 1


def _check_budget(root: yaml.Node) -> None:
    """Count the nodes `root` stands for once every alias is expanded (each shared node counted
    once per reference, memoized, so the count itself takes time linear in the file)."""
    size: dict[int, int] = {}
    open_: set[int] = set()

    def count(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in size:
            return size[key]
        if key in open_:
            raise _Budget("an alias refers to a node that contains it", node)
        if depth > MAX_YAML_DEPTH:
            raise _Budget(f"nested more than {MAX_YAML_DEPTH} levels deep", node)
        n = 1
        if isinstance(node, yaml.CollectionNode):
            open_.add(key)
            items = node.value if isinstance(node, yaml.SequenceNode) else [
                x for pair in node.value for x in pair
            ]  # fmt: skip
            for child in items:
                n += count(child, depth + 1)
                if n > MAX_YAML_NODES:
                    raise _Budget(
                        f"more than {MAX_YAML_NODES:,} values once its aliases are expanded", node
                    )
            open_.discard(key)
        size[key] = n
        return n

    count(root, 0)


def parse_yaml(text: str, path: str) -> tuple[Any, yaml.Node | None]:
    """Read YAML text within the module's budget; every problem is one `InputError` line."""
    if len(text) > MAX_YAML_BYTES:
        raise InputError(f"{path}: {_too_big(len(text))}")
    loader = None
    try:
        loader = _Loader(text)  # a control character in the text is refused here already
        node = loader.get_single_node()
        if node is not None:
            _check_budget(node)
        data = loader.construct_document(node) if node is not None else None
    except _DuplicateKey as exc:
        raise InputError(
            f"{path}: key {shown(exc.key)} appears twice in the same mapping (line {exc.line})"
        ) from None
    except _Budget as exc:
        raise InputError(f"{path}: cannot read YAML: {exc.why} (line {exc.line})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise InputError(f"{path}: cannot read YAML: {problem}{where}") from None
    except RecursionError:
        raise InputError(
            f"{path}: cannot read YAML: nested more than {MAX_YAML_DEPTH} levels deep"
        ) from None
    except (ValueError, OverflowError) as exc:  # a scalar it cannot build (an int of 5,000 digits)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot read YAML: {first}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, node


def _line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """The line of the deepest node of `loc` present in the file (1-based)."""
    if root is None:
        return None
    node = root
    for key in loc:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                    nxt = v
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if 0 <= key < len(node.value) and key < 1900:
                nxt = node.value[key]
            else:  # list form of `years`: find the entry of that year
                for item in node.value:
                    if isinstance(item, yaml.MappingNode) and any(
                        k.value == "year" and getattr(v, "value", None) == str(key)
                        for k, v in item.value
                    ):
                        nxt = item
                        break
        if nxt is None:
            break
        node = nxt
    return node.start_mark.line + 1


# ----------------------------------------------------------------------------------------------
# Error messages
# ----------------------------------------------------------------------------------------------


def field_path(loc: Loc) -> str:
    out = ""
    for key in loc:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += ("." if out else "") + key
    return out


def _strip_type(t: Any) -> Any:
    while True:
        origin = get_origin(t)
        if origin is Annotated:
            t = get_args(t)[0]
        elif origin in (Union, types.UnionType):
            t = next(a for a in get_args(t) if a is not type(None))
        else:
            return t


def fields_at(loc: Loc) -> list[str]:
    """Field names of the model at `loc` (for 'did you mean' hints)."""
    t: Any = ScenarioFile
    for key in loc:
        t = _strip_type(t)
        if isinstance(t, type) and issubclass(t, BaseModel):
            if key not in t.model_fields:
                return []
            t = t.model_fields[key].annotation
        elif get_origin(t) is list:
            t = get_args(t)[0]
        elif get_origin(t) is dict:
            t = get_args(t)[1]
        else:
            return []
    t = _strip_type(t)
    if loc and loc[0] == "years" and len(loc) == 2:
        t = YearIncome
    return list(t.model_fields) if isinstance(t, type) and issubclass(t, BaseModel) else []


def bound_text(x: Any) -> str:
    """A bound as a person reads it: 10,000,000,000, 2200, 0.5."""
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:g}"


def error_reason(err: dict[str, Any]) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    got = f", got {shown(err['input'])}" if "input" in err else ""
    if kind == "isoplan":
        return err["msg"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        loc = err["loc"]
        key, fields = str(loc[-1]), fields_at(loc[:-1])
        close = difflib.get_close_matches(key, fields, n=1) or [
            f for f in fields if f.startswith(key) or key.startswith(f)
        ]
        return "unknown field" + (f"; did you mean '{close[0]}'?" if close else "")
    if kind == "greater_than_equal":
        if ctx["ge"] == 0:
            return "must not be negative" + got
        return f"must be at least {bound_text(ctx['ge'])}{got}"
    if kind == "greater_than":
        if ctx["gt"] == 0:
            return "must be positive" + got
        return f"must be more than {bound_text(ctx['gt'])}{got}"
    if kind == "less_than_equal":
        return f"must be at most {bound_text(ctx['le'])}{got}"
    if kind == "less_than":
        return f"must be less than {bound_text(ctx['lt'])}{got}"
    if kind == "finite_number":
        return "must be a finite number" + got
    if kind in ("float_type", "float_parsing"):
        return "expected a number" + got
    if kind in ("int_type", "int_parsing"):
        if err["loc"] and err["loc"][-1] == "[key]":
            return "expected a year like 2026" + got
        return "expected a whole number" + got
    if kind == "int_from_float":
        return "must be a whole number" + got
    if kind in ("bool_type", "bool_parsing"):
        return "expected true or false" + got
    if kind == "literal_error":
        return f"expected {ctx['expected']}{got}"
    if kind == "string_type":
        return "expected text" + got
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if kind == "string_pattern_mismatch":
        return "use letters, digits, '_', '.' and '-' only (no spaces, ':' or '@')" + got
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "expected a mapping" + got
    if kind == "list_type":
        return "expected a list" + got
    msg = str(err["msg"]).removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:] + got


class Where:
    """Formats errors about one file: `file: path: why (line N)`."""

    def __init__(self, source: str, root: yaml.Node | None) -> None:
        self.source, self.root = source, root

    def message(self, loc: Loc, why: str, more: int = 0) -> str:
        line = _line_of(self.root, loc)
        notes = [f"line {line}"] if line is not None else []
        if more:
            notes.append(f"and {more} more problem{'s' if more > 1 else ''}")
        path = field_path(loc)
        tail = f" ({'; '.join(notes)})" if notes else ""
        return f"{self.source}: {path + ': ' if path else ''}{why}{tail}"

    def error(self, loc: Loc, why: str, more: int = 0) -> InputError:
        return InputError(self.message(loc, why, more))

    def from_validation(self, exc: ValidationError) -> InputError:
        errors = exc.errors(include_url=False)
        err = errors[0]
        loc = tuple(k for k in err["loc"] if k != "[key]")
        return self.error(loc, error_reason(err), len(errors) - 1)
