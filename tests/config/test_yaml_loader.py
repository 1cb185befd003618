"""The strict YAML loader: every refusal names file, line and key."""

from __future__ import annotations

import pytest

from cd.config.yamlload import MAX_BYTES, MAX_DEPTH, parse_yaml
from cd.errors import ConfigError


def problems(text: str | bytes) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "f.yaml")
    return [str(p) for p in info.value.problems]


def test_plain_values_follow_yaml_1_2_core_rules() -> None:
    doc = parse_yaml("a: 1\nb: 2.5\nc: true\nd: null\ne: text\nf: '010'\ng: [x, -3]\n", "f.yaml")
    assert doc.data == {"a": 1, "b": 2.5, "c": True, "d": None, "e": "text", "f": "010", "g": ["x", -3]}


def test_every_key_path_has_its_line() -> None:
    doc = parse_yaml("a:\n  b:\n    - x\n    - y: 1\n", "f.yaml")
    assert doc.line_of(("a", "b", 1, "y")) == 4
    assert doc.line_of(("a", "b", 0)) == 3
    assert doc.line_of(("a", "missing")) == 1


def test_duplicate_key_is_refused_with_both_lines() -> None:
    assert problems("a: 1\nb: 2\na: 3\n") == ["f.yaml:3: a: duplicate key 'a' (first defined on line 1)"]


def test_duplicate_nested_key_is_refused() -> None:
    assert problems("m:\n  x: 1\n  x: 2\n") == ["f.yaml:3: m.x: duplicate key 'x' (first defined on line 2)"]


@pytest.mark.parametrize("word", ["no", "No", "off", "yes", "on", "y", "N"])
def test_yaml11_boolean_words_are_refused(word: str) -> None:
    assert problems(f"region: {word}\n") == [
        f"f.yaml:1: region: ambiguous value {word!r}: YAML 1.1 reads it as a boolean; write true/false, or quote it"
    ]


def test_quoted_yaml11_boolean_word_is_a_string() -> None:
    assert parse_yaml("region: 'no'\n", "f.yaml").data == {"region": "no"}


def test_leading_zero_octal_is_refused() -> None:
    assert problems("version: 010\n") == [
        "f.yaml:1: version: ambiguous number '010': YAML 1.1 reads a leading 0 as octal; "
        "drop the leading zero, or quote it if a string is meant"
    ]


@pytest.mark.parametrize("value", ["1:30", "190:20:30"])
def test_sexagesimal_is_refused(value: str) -> None:
    assert problems(f"bake: {value}\n") == [
        f"f.yaml:1: bake: ambiguous value {value!r}: YAML 1.1 reads it as a base-60 number; quote it"
    ]


@pytest.mark.parametrize("value", ["0x1F", "0o17", "1_000"])
def test_other_number_spellings_are_refused(value: str) -> None:
    assert problems(f"n: {value}\n") == [
        f"f.yaml:1: n: ambiguous number {value!r}: write a plain decimal number, or quote it"
    ]


@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf", "-.inf", "+.Inf"])
def test_non_finite_numbers_are_refused(value: str) -> None:
    assert problems(f"min: {value}\n") == [f"f.yaml:1: min: {value!r} is not allowed: numbers must be finite"]


def test_anchors_and_aliases_are_refused() -> None:
    assert problems("a: &x [1]\nb: *x\n") == [
        "f.yaml:2: b: YAML anchors and aliases (&name / *name) are not supported; write the value out"
    ]


def test_merge_keys_are_refused() -> None:
    assert problems("b:\n  <<: {y: 2}\n") == [
        "f.yaml:2: b: YAML merge keys (<<) are not supported; write the keys out"
    ]


def test_explicit_tags_are_refused() -> None:
    assert problems("a: !!python/object:os.system ls\n") == [
        "f.yaml:1: a: explicit YAML tag 'tag:yaml.org,2002:python/object:os.system' is not allowed"
    ]


def test_multiple_documents_are_refused() -> None:
    assert problems("a: 1\n---\nb: 2\n") == [
        "f.yaml:2: more than one YAML document (`---`) in the file; keep exactly one"
    ]


def test_syntax_error_names_the_line() -> None:
    assert problems("a: [1, 2\nb: 3\n") == ["f.yaml:2: YAML syntax error: did not find expected ',' or ']'"]


def test_non_string_keys_are_refused() -> None:
    assert problems("? [a]\n: b\n") == ["f.yaml:1: mapping keys must be plain strings"]


def test_oversized_file_is_refused_before_parsing() -> None:
    text = "a: " + "x" * MAX_BYTES + "\n"
    assert problems(text) == [f"f.yaml: file is {len(text)} bytes; the limit is {MAX_BYTES} bytes"]


def test_pathological_nesting_is_refused_at_its_line_without_crashing() -> None:
    # libyaml (or PyYAML itself, since 6.0.4) may refuse this before our own depth check runs: what a
    # user relies on is that the file is refused at file:line, as a problem, not a crash.
    text = "a: " + "[" * 200_000 + "]" * 200_000 + "\n"
    (only,) = problems(text)
    assert only.startswith("f.yaml:1: ")
    assert "nesting" in only.lower()


def test_nesting_past_the_limit_is_refused_naming_the_key_path() -> None:
    text = "a: " + "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2) + "\n"
    (only,) = problems(text)
    assert only.startswith("f.yaml:1: a[0]")
    assert only.endswith(f"nesting deeper than {MAX_DEPTH} levels")


def test_non_utf8_is_refused() -> None:
    assert problems(b"a: \xff\n") == ["f.yaml: not UTF-8 text (invalid start byte at byte 3)"]


def test_all_value_problems_are_reported_not_just_the_first() -> None:
    assert len(problems("a: no\nb: 010\nc: 1:30\n")) == 3
