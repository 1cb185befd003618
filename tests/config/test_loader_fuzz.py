"""Random YAML never crashes the loader: it loads, or raises the project's own error."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cd.config import build_repo_config
from cd.config.yamlload import parse_yaml
from cd.errors import ConfigError

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["no", "010", "1:30", ".nan", "~", "&a", "*a", "!!str", "<<", "---"]),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_arbitrary_text_loads_or_raises_config_error(text: str) -> None:
    try:
        parse_yaml(text, "fuzz.yaml")
    except ConfigError as exc:
        assert all(p.file == "fuzz.yaml" for p in exc.problems)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.sampled_from(["environments/x.yaml", "gates/churn.yaml", "models/churn/model.yaml"]))
def test_random_documents_as_config_files_load_or_raise_config_error(data: object, path: str) -> None:
    text = yaml.safe_dump(data, allow_unicode=True)
    try:
        build_repo_config({path: text.encode()})
    except ConfigError as exc:
        assert exc.problems
