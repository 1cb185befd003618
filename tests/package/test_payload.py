"""Request parsing and validation for /invocations, without a server (cd/package/payload.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cd.package.payload import (
    DEFAULT_MAX_BODY_BYTES,
    InputColumn,
    PayloadError,
    check_body_size,
    classifier_response,
    media_type,
    parse_invocation,
    prediction_response,
)

COLUMNS = (
    InputColumn("tenure", "integer"),
    InputColumn("charges", "number"),
    InputColumn("plan", "string"),
    InputColumn("autopay", "boolean"),
)
EXPECTED = pd.DataFrame(
    {
        "tenure": pd.Series([3, 40], dtype="int64"),
        "charges": pd.Series([70.5, 20.0], dtype="float64"),
        "plan": pd.Series(["basic", "pro"], dtype=object),
        "autopay": pd.Series([False, True], dtype="bool"),
    }
)
RECORDS = [
    {"tenure": 3, "charges": 70.5, "plan": "basic", "autopay": False},
    {"tenure": 40, "charges": 20, "plan": "pro", "autopay": True},
]


def parse_json(doc: object, content_type: str = "application/json") -> pd.DataFrame:
    return parse_invocation(json.dumps(doc).encode(), content_type, COLUMNS)


def parse_csv(text: str, content_type: str = "text/csv") -> pd.DataFrame:
    return parse_invocation(text.encode(), content_type, COLUMNS)


def refusal(call: object, *args: object) -> tuple[int, str]:
    with pytest.raises(PayloadError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value.status, caught.value.message


# ------------------------------------------------------------------------------ accepted shapes


def test_a_list_of_records_becomes_a_typed_frame_in_schema_order() -> None:
    frame = parse_json([{"autopay": False, "plan": "basic", "charges": 70.5, "tenure": 3}, RECORDS[1]])
    pd.testing.assert_frame_equal(frame, EXPECTED)


def test_instances_of_records_are_accepted() -> None:
    pd.testing.assert_frame_equal(parse_json({"instances": RECORDS}), EXPECTED)


def test_instances_of_value_lists_are_read_in_schema_order() -> None:
    frame = parse_json({"instances": [[3, 70.5, "basic", False], [40, 20.0, "pro", True]]})
    pd.testing.assert_frame_equal(frame, EXPECTED)


def test_dataframe_split_is_accepted_with_columns_in_any_order() -> None:
    doc = {
        "dataframe_split": {
            "columns": ["plan", "tenure", "charges", "autopay"],
            "data": [["basic", 3, 70.5, False], ["pro", 40, 20, True]],
        }
    }
    pd.testing.assert_frame_equal(parse_json(doc), EXPECTED)


def test_dataframe_records_is_accepted() -> None:
    pd.testing.assert_frame_equal(parse_json({"dataframe_records": RECORDS}), EXPECTED)


def test_json_content_type_parameters_and_case_are_ignored() -> None:
    pd.testing.assert_frame_equal(parse_json(RECORDS, "Application/JSON; charset=utf-8"), EXPECTED)


def test_csv_without_header_is_read_in_schema_order() -> None:
    pd.testing.assert_frame_equal(parse_csv("3,70.5,basic,false\n40,20,pro,TRUE\n"), EXPECTED)


def test_csv_with_a_header_may_order_columns_freely() -> None:
    text = "plan,autopay,tenure,charges\r\nbasic,0,3,70.5\r\npro,1,40,20.0\r\n"
    pd.testing.assert_frame_equal(parse_csv(text), EXPECTED)


def test_csv_header_parameter_absent_reads_the_first_line_as_data() -> None:
    columns = (InputColumn("plan", "string"),)
    frame = parse_invocation(b"plan\nbasic\n", "text/csv; header=absent", columns)
    assert frame["plan"].tolist() == ["plan", "basic"]


def test_csv_quoted_fields_keep_commas() -> None:
    frame = parse_csv('3,70.5,"basic, legacy",false\n')
    assert frame["plan"].tolist() == ["basic, legacy"]


def test_integral_json_floats_are_accepted_for_integer_columns() -> None:
    frame = parse_json([{**RECORDS[0], "tenure": 3.0}])
    assert frame["tenure"].tolist() == [3]
    assert frame["tenure"].dtype == np.int64


# ------------------------------------------------------------------------------ 400: columns


def test_a_missing_column_is_named() -> None:
    record = {k: v for k, v in RECORDS[0].items() if k != "charges"}
    assert refusal(parse_json, [record]) == (
        400,
        "row 1: missing column(s): charges (expected: tenure, charges, plan, autopay)",
    )


def test_an_unknown_column_is_named() -> None:
    assert refusal(parse_json, [RECORDS[0], {**RECORDS[1], "colour": "red"}]) == (
        400,
        "row 2: unknown column(s): colour (expected: tenure, charges, plan, autopay)",
    )


def test_csv_header_with_a_wrong_column_is_refused() -> None:
    assert refusal(parse_csv, "tenure,charges,plan,colour\n3,70.5,basic,red\n") == (
        400,
        "missing column(s): autopay; unknown column(s): colour (expected: tenure, charges, plan, autopay)",
    )


def test_csv_row_with_too_few_values_is_refused_with_its_line() -> None:
    assert refusal(parse_csv, "3,70.5,basic,false\n40,20,pro\n") == (
        400,
        "line 2 has 3 values, expected 4 (tenure, charges, plan, autopay)",
    )


def test_instance_list_of_the_wrong_length_is_refused() -> None:
    assert refusal(parse_json, {"instances": [[3, 70.5]]}) == (
        400,
        "row 1 has 2 values, expected 4 (tenure, charges, plan, autopay)",
    )


def test_dataframe_split_with_repeated_columns_is_refused() -> None:
    doc = {"dataframe_split": {"columns": ["plan", "plan"], "data": [["a", "b"]]}}
    assert refusal(parse_json, doc) == (400, '"dataframe_split.columns" repeats column(s): plan')


# ------------------------------------------------------------------------------ 400: types


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("tenure", "three", "column 'tenure' row 1: expected integer, got string 'three'"),
        ("tenure", 2.5, "column 'tenure' row 1: expected integer, got number 2.5"),
        ("tenure", True, "column 'tenure' row 1: expected integer, got boolean True"),
        ("tenure", 2**63, f"column 'tenure' row 1: integer {2**63} is out of the 64-bit range"),
        ("charges", "70.5", "column 'charges' row 1: expected number, got string '70.5'"),
        ("plan", 7, "column 'plan' row 1: expected string, got number 7"),
        ("autopay", "yes", "column 'autopay' row 1: expected boolean, got string 'yes'"),
        ("autopay", 1, "column 'autopay' row 1: expected boolean, got number 1"),
        ("plan", None, "column 'plan' row 1: null is not allowed; every input is required"),
        ("plan", ["a"], "column 'plan' row 1: expected string, got list ['a']"),
    ],
)
def test_json_values_of_the_wrong_type_are_refused(column: str, value: object, message: str) -> None:
    assert refusal(parse_json, [{**RECORDS[0], column: value}]) == (400, message)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("x,70.5,basic,false", "column 'tenure' line 1: expected integer, got string 'x'"),
        ("3.5,70.5,basic,false", "column 'tenure' line 1: expected integer, got string '3.5'"),
        ("3,abc,basic,false", "column 'charges' line 1: expected number, got string 'abc'"),
        ("3,inf,basic,false", "column 'charges' line 1: inf is not a finite number"),
        ("3,,basic,false", "column 'charges' line 1: missing value; every input is required"),
        ("3,70.5,basic,maybe", "column 'autopay' line 1: expected boolean, got string 'maybe'"),
    ],
)
def test_csv_values_of_the_wrong_type_are_refused(line: str, message: str) -> None:
    assert refusal(parse_csv, line + "\n") == (400, message)


def test_json_nan_is_refused() -> None:
    body = b'[{"tenure": 3, "charges": NaN, "plan": "basic", "autopay": false}]'
    assert refusal(parse_invocation, body, "application/json", COLUMNS) == (
        400,
        "malformed JSON: NaN is not a JSON number",
    )


# ------------------------------------------------------------------------------ 400: malformed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'[{"tenure": 3,',
            "malformed JSON: Expecting property name enclosed in double quotes at line 1 column 15",
        ),
        (b"", "request body is empty"),
        (b"\xff\xfe", "request body is not valid UTF-8 (byte 0)"),
        (b"[]", "the request has no rows"),
        (
            b'"rows"',
            'JSON body must be one of a list of records, {"instances": [...]}, {"dataframe_split": {...}}, {"dataframe_records": [...]}; got string',
        ),
        (b"[[3, 70.5]]", "the top-level list: row 1 must be an object mapping column to value; got list"),
        (
            b'{"rows": []}',
            "JSON object must have exactly one key: instances, dataframe_split or dataframe_records; got ['rows']",
        ),
        (b'{"instances": {"a": 1}}', '"instances" must be a list; got object'),
        (
            b'{"dataframe_split": {"data": []}}',
            '"dataframe_split" must be an object with "columns" and "data"',
        ),
    ],
)
def test_malformed_json_bodies_are_refused(body: bytes, message: str) -> None:
    assert refusal(parse_invocation, body, "application/json", COLUMNS) == (400, message)


def test_csv_with_an_unterminated_quote_is_refused() -> None:
    assert refusal(parse_csv, '3,70.5,"basic,false\n') == (
        400,
        "malformed CSV at line 1: unexpected end of data",
    )


def test_csv_with_only_empty_fields_is_refused() -> None:
    assert refusal(parse_csv, ",,\n \n") == (400, "CSV body has no rows")


def test_csv_header_without_rows_is_refused() -> None:
    assert refusal(parse_csv, "tenure,charges,plan,autopay\n") == (400, "the request has no rows")


def test_an_unknown_csv_header_parameter_is_refused() -> None:
    assert refusal(parse_csv, "3,70.5,basic,false\n", "text/csv; header=maybe") == (
        400,
        "text/csv parameter header='maybe' must be 'present' or 'absent'",
    )


# ------------------------------------------------------------------------------ 415 and 413


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-npy", "application/jsonlines"])
def test_unsupported_content_types_get_415(content_type: str) -> None:
    assert refusal(parse_invocation, b"[]", content_type, COLUMNS) == (
        415,
        f"unsupported media type: Content-Type {content_type!r}; send application/json or text/csv",
    )


def test_a_missing_content_type_gets_415() -> None:
    assert refusal(parse_invocation, b"[]", None, COLUMNS) == (
        415,
        "unsupported media type: a missing Content-Type; send application/json or text/csv",
    )


def test_a_body_over_the_limit_gets_413() -> None:
    body = json.dumps(RECORDS).encode()
    assert refusal(parse_invocation, body, "application/json", COLUMNS, len(body) - 1) == (
        413,
        f"request body is larger than the {len(body) - 1}-byte limit",
    )


def test_a_body_at_the_limit_is_accepted() -> None:
    body = json.dumps(RECORDS).encode()
    assert len(parse_invocation(body, "application/json", COLUMNS, len(body))) == 2


def test_the_default_limit_is_sagemakers_6_mb() -> None:
    assert DEFAULT_MAX_BODY_BYTES == 6 * 1024 * 1024
    check_body_size(DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES)


def test_media_type_drops_parameters() -> None:
    assert media_type(" Text/CSV ; header=present") == "text/csv"


def test_unknown_column_types_are_refused_when_the_schema_is_made() -> None:
    with pytest.raises(
        ValueError, match="column 'x': type 'float' is not one of integer, number, string, boolean"
    ):
        InputColumn("x", "float")


# ------------------------------------------------------------------------------ responses


def test_classifier_response_lists_predictions_probabilities_and_classes() -> None:
    answer = prediction_response(np.array([1, 0]), np.array([[0.25, 0.75], [0.5, 0.5]]), np.array([0, 1]))
    assert json.loads(json.dumps(answer)) == {
        "predictions": [1, 0],
        "probabilities": [[0.25, 0.75], [0.5, 0.5]],
        "classes": [0, 1],
    }


def test_regressor_response_has_predictions_only() -> None:
    assert prediction_response(pd.Series([1.5, np.float64(2.25)])) == {"predictions": [1.5, 2.25]}


def test_dataframe_predictions_become_records() -> None:
    frame = pd.DataFrame({"label": ["a"], "score": [np.float32(0.5)]})
    assert prediction_response(frame) == {"predictions": [{"label": "a", "score": 0.5}]}


class ProbabilityPyfuncClassifier:
    """A classifier like the churn example: its pyfunc is logged to predict probabilities."""

    classes_ = np.array(["stay", "churn"])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = frame["x"].to_numpy()
        return np.c_[1 - p, p]


def test_a_classifier_answers_labels_with_probabilities_beside_them() -> None:
    answer = classifier_response(ProbabilityPyfuncClassifier(), pd.DataFrame({"x": [0.9, 0.2]}))
    assert answer == {
        "predictions": ["churn", "stay"],
        "probabilities": [[0.09999999999999998, 0.9], [0.8, 0.2]],
        "classes": ["stay", "churn"],
    }
