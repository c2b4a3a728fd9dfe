"""Customer segments: default rules on a hand-built fixture, RFM quartiles, rules files, CLI."""

from __future__ import annotations

import textwrap
import warnings
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.cli.segment import segment
from clvmodels.errors import DataError, DataQualityWarning
from clvmodels.predict.columns import SCORE_COLUMNS
from clvmodels.segments.assign import SUMMARY_COLUMNS, segment_customers, segment_summary
from clvmodels.segments.rules import Condition, SegmentRule
from clvmodels.segments.rules_file import load_rules, parse_rules
from clvmodels.segments.scores import DERIVED_COLUMNS, derived_fields

DEFAULT_NAMES = [
    "high_value",
    "loyal",
    "promising_new",
    "at_risk",
    "occasional",
    "one_time",
    "hibernating",
    "lost",
]

# id, frequency, recency, T, monetary_value, p_alive, expected_purchases, clv  (weeks)
FIXTURE_ROWS = [
    ("A", 12, 50, 52, 80, 0.95, 6.0, 900),  # top CLV, alive
    ("B", 10, 48, 52, 30, 0.90, 5.0, 300),  # frequent, alive, 2nd CLV (not top decile)
    ("C", 0, 0, 3, 0, 1.00, 0.8, 40),  # one-time buyer, newest
    ("D", 1, 4, 5, 25, 0.85, 0.9, 60),  # one repeat, new
    ("E", 8, 20, 52, 60, 0.35, 1.0, 120),  # frequent, P(alive) fallen
    ("F", 2, 45, 50, 20, 0.80, 1.2, 80),  # recent, infrequent, not new
    ("G", 0, 0, 48, 0, 1.00, 0.3, 15),  # one-time buyer, not new (T_percentile exactly 25)
    ("H", 3, 10, 52, 15, 0.10, 0.1, 5),  # frequent-ish, P(alive) 0.10
    ("I", 6, 8, 52, 40, 0.02, 0.01, 1),  # P(alive) below 0.05
    ("J", 1, 6, 51, 10, 0.60, 0.4, 20),  # one repeat long ago, not recent
    ("K", 2, 5, 6, 35, 0.90, 1.5, 150),  # new but two repeats
    ("L", 4, 5, 52, 50, 0.20, 0.2, 30),  # frequent, P(alive) exactly 0.2
]
EXPECTED = {
    "A": "high_value",
    "B": "loyal",
    "C": "promising_new",
    "D": "promising_new",
    "E": "at_risk",
    "F": "occasional",
    "G": "one_time",  # P(alive) = 1 for every one-time buyer here: it says nothing
    "H": "hibernating",
    "I": "lost",
    "J": "hibernating",
    "K": "occasional",
    "L": "at_risk",
}


FIXTURE_COLUMNS = [
    "customer_id",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "p_alive",
    "expected_purchases",
    "clv",
]


def make_scores(rows=FIXTURE_ROWS) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=FIXTURE_COLUMNS)
    frame["expected_purchases_low"] = frame["expected_purchases"] * 0.5
    frame["expected_purchases_high"] = frame["expected_purchases"] * 2
    frame["expected_spend"] = frame["monetary_value"].clip(lower=10.0)
    frame["clv_low"] = frame["clv"] * 0.5
    frame["clv_high"] = frame["clv"] * 2
    return frame[list(SCORE_COLUMNS)]


@pytest.fixture()
def scores() -> pd.DataFrame:
    return make_scores()


def by_id(frame: pd.DataFrame, column: str) -> dict:
    return dict(zip(frame["customer_id"], frame[column], strict=True))


# ------------------------------------------------------------------ default rules
def test_default_rules_are_documented_and_end_in_a_catch_all():
    rules = load_rules()
    assert [r.name for r in rules] == DEFAULT_NAMES
    assert all(r.description for r in rules)
    assert rules[-1].is_catch_all and not any(r.is_catch_all for r in rules[:-1])
    text = resources.files("clvmodels").joinpath("segment_rules.toml").read_text("utf-8")
    lines = text.splitlines()
    for rule in rules:  # each rule knows the line of its name
        assert lines[rule.line - 1].strip() == f'name = "{rule.name}"'


def test_fixture_lands_in_expected_segments(scores):
    segmented = segment_customers(scores)
    assert by_id(segmented, "segment") == EXPECTED
    assert list(segmented["segment"].cat.categories) == DEFAULT_NAMES


def test_fixture_derived_fields(scores):
    segmented = segment_customers(scores)
    rfm = by_id(segmented, "rfm_score")
    assert rfm["A"] == "444"
    assert rfm["B"] == "343"
    assert rfm["E"] == "244"
    assert rfm["G"] == "111"
    assert rfm["K"] == "423"
    # D and K bought 1 week ago: tied, they share R = 4
    assert by_id(segmented, "r_score")["D"] == by_id(segmented, "r_score")["K"] == 4
    assert by_id(segmented, "clv_percentile")["A"] == pytest.approx(100 * 11 / 12)
    assert by_id(segmented, "clv_percentile")["I"] == 0
    assert by_id(segmented, "T_percentile")["G"] == pytest.approx(25)  # not < 25: not new
    assert by_id(segmented, "since_last")["J"] == 45
    assert by_id(segmented, "is_repeat") == {k: k not in ("C", "G") for k in EXPECTED}
    assert list(segmented.columns) == [*SCORE_COLUMNS, *DERIVED_COLUMNS, "segment"]


def test_rfm_quartiles_on_a_hand_example():
    # since_last = T - recency: 1, 2, ..., 8 for customers a..h; frequency 8..1; monetary 1..8
    frame = pd.DataFrame(
        {
            "frequency": [8, 7, 6, 5, 4, 3, 2, 1],
            "recency": [9, 8, 7, 6, 5, 4, 3, 2],
            "T": [10] * 8,
            "monetary_value": [10, 20, 30, 40, 50, 60, 70, 80],
            "clv": [1.0] * 8,
        }
    )
    derived = derived_fields(frame)
    assert derived["since_last"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    # smallest time since the last purchase is best: R = 4
    assert derived["r_score"].tolist() == [4, 4, 3, 3, 2, 2, 1, 1]
    assert derived["f_score"].tolist() == [4, 4, 3, 3, 2, 2, 1, 1]
    assert derived["m_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4]
    assert derived["rfm_score"].tolist() == ["441", "441", "332", "332", "223", "223", "114", "114"]
    assert derived["clv_percentile"].tolist() == [0.0] * 8  # all tied: nobody is above anybody


def test_ties_share_a_quartile_whatever_the_row_order():
    frame = pd.DataFrame(
        {
            "frequency": [0, 0, 0, 0, 0, 0, 3, 5],
            "recency": [0, 0, 0, 0, 0, 0, 4, 6],
            "T": [10] * 8,
            "monetary_value": [0, 0, 0, 0, 0, 0, 20, 30],
            "clv": np.arange(8.0),
        }
    )
    derived = derived_fields(frame)
    assert derived["f_score"].tolist() == [1] * 6 + [4, 4]
    shuffled = derived_fields(frame.iloc[::-1].reset_index(drop=True))
    assert shuffled["f_score"].tolist()[::-1] == derived["f_score"].tolist()


def test_input_is_not_modified(scores):
    before = scores.copy()
    segment_customers(scores)
    pd.testing.assert_frame_equal(scores, before)


def test_resegmenting_replaces_old_derived_columns(scores):
    once = segment_customers(scores)
    twice = segment_customers(once)
    assert list(twice.columns) == list(once.columns)
    assert by_id(twice, "segment") == EXPECTED


def test_missing_clv_warns_and_meets_no_condition(scores):
    scores.loc[scores["customer_id"] == "A", "clv"] = np.nan
    with pytest.warns(DataQualityWarning, match=r"'clv' is missing for 1 of 12"):
        segmented = segment_customers(scores)
    assert np.isnan(by_id(segmented, "clv_percentile")["A"])
    assert by_id(segmented, "segment")["A"] == "loyal"


# ------------------------------------------------------------------ summary
def test_summary_columns_order_and_totals(scores):
    segmented = segment_customers(scores)
    summary = segment_summary(segmented)
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert summary["segment"].tolist() == DEFAULT_NAMES
    counts = dict(zip(summary["segment"], summary["customers"], strict=True))
    assert counts == {
        "high_value": 1,
        "loyal": 1,
        "promising_new": 2,
        "at_risk": 2,
        "occasional": 2,
        "one_time": 1,
        "hibernating": 2,
        "lost": 1,
    }
    assert summary["customers"].sum() == 12
    assert summary["share"].sum() == pytest.approx(1)
    assert summary["total_clv"].sum() == pytest.approx(scores["clv"].sum())
    at_risk = summary.set_index("segment").loc["at_risk"]
    assert at_risk["total_clv"] == pytest.approx(150)
    assert at_risk["mean_clv"] == pytest.approx(75)
    assert at_risk["mean_p_alive"] == pytest.approx(0.275)
    assert at_risk["mean_expected_purchases"] == pytest.approx(0.6)


def test_summary_lists_empty_segments_in_rule_order(scores):
    rules = parse_rules(
        """
        [[segment]]
        name = "nobody"
        p_alive = { above = 1 }
        [[segment]]
        name = "everyone"
        """.replace("        ", "")
    )
    summary = segment_summary(segment_customers(scores, rules=rules), rules=rules)
    assert summary["segment"].tolist() == ["nobody", "everyone"]
    assert summary["customers"].tolist() == [0, 12]
    assert summary["total_clv"].tolist()[0] == 0
    assert np.isnan(summary["mean_clv"].tolist()[0])


# ------------------------------------------------------------------ property
score_rows = st.integers(min_value=0, max_value=20).flatmap(
    lambda x: st.tuples(
        st.just(x),
        st.floats(0, 1),  # recency as a share of T
        st.floats(0, 104, allow_nan=False),
        st.floats(1, 500),
        st.floats(0, 1),
        st.floats(0, 20),
        st.one_of(st.floats(0, 5000), st.just(np.nan)),
    )
)


@settings(max_examples=60, deadline=None)
@given(st.lists(score_rows, min_size=1, max_size=40))
def test_every_customer_gets_exactly_one_segment(rows):
    frame = pd.DataFrame(
        [
            (
                f"c{i}",
                x,
                share * T if x > 0 else 0.0,
                T,
                m if x > 0 else 0.0,
                p,
                e,
                clv,
            )
            for i, (x, share, T, m, p, e, clv) in enumerate(rows)
        ],
        columns=FIXTURE_COLUMNS,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        segmented = segment_customers(frame)
    assert len(segmented) == len(frame)
    assert segmented["segment"].notna().all()
    assert set(segmented["segment"]) <= set(DEFAULT_NAMES)
    # the segment is the first rule that matches, and exactly one label per customer
    rules = load_rules()
    first = np.full(len(frame), -1)
    for code, rule in reversed(list(enumerate(rules))):
        first[rule.matches(segmented)] = code
    assert (segmented["segment"].cat.codes.to_numpy() == first).all()
    for name in ("r_score", "f_score", "m_score"):
        assert segmented[name].between(1, 4).all()
    pct = segmented["clv_percentile"].dropna()
    assert ((pct >= 0) & (pct < 100)).all()
    assert segment_summary(segmented)["customers"].sum() == len(frame)


# ------------------------------------------------------------------ custom rules
CUSTOM = """\
# my rules
[[segment]]
name = "whale"
description = "CLV above 200"
clv = { above = 200 }

[[segment]]
name = "champions"
rfm_score = { in = ["444", "443", "434"] }

[[segment]]
name = "repeat"
is_repeat = true

[segment.p_alive]
min = 0.5

[[segment]]
name = "other"
"""


def test_custom_rules_file_is_applied(scores, tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(CUSTOM)
    rules = load_rules(path)
    assert [r.name for r in rules] == ["whale", "champions", "repeat", "other"]
    assert rules[2].describe() == "is_repeat = true and p_alive >= 0.5"
    assert [r.line for r in rules] == [3, 8, 12, 19]
    segmented = segment_customers(scores, rules=path)
    got = by_id(segmented, "segment")
    assert got["A"] == got["B"] == "whale"
    assert {k for k, v in got.items() if v == "repeat"} == {"D", "F", "J", "K"}
    assert {k for k, v in got.items() if v == "other"} == {"C", "E", "G", "H", "I", "L"}


def test_shorthand_values_and_describe(scores):
    rules = parse_rules(
        '[[segment]]\nname = "top"\nf_score = [3, 4]\nis_repeat = true\n'
        'p_alive = { min = 0.2, below = 0.5 }\n[[segment]]\nname = "rest"\n'
    )
    assert rules[0].describe() == "f_score in [3, 4] and is_repeat = true and 0.2 <= p_alive < 0.5"
    assert rules[1].describe() == "everyone else"
    got = by_id(segment_customers(scores, rules=rules), "segment")
    assert {k for k, v in got.items() if v == "top"} == {"E", "L"}


def test_rules_built_in_python(scores):
    rules = [
        SegmentRule("alive", "P(alive) at least 0.5", (Condition("p_alive", low=0.5),)),
        SegmentRule("rest"),
    ]
    got = by_id(segment_customers(scores, rules=rules), "segment")
    assert {k for k, v in got.items() if v == "alive"} == {"A", "B", "C", "D", "F", "G", "J", "K"}
    with pytest.raises(DataError, match=r"^segment rules: the last rule 'alive' has conditions"):
        segment_customers(scores, rules=rules[:1])


def rules_text(body: str) -> str:
    return textwrap.dedent(body).lstrip("\n")


INVALID = [
    pytest.param(
        """
        [[segment]]
        name = "a
        [[segment]]
        name = "b"
        """,
        2,
        "not valid TOML",
        id="syntax",
    ),
    pytest.param(
        """
        [[segment]]
        name = "a"
        frequncy = { min = 1 }

        [[segment]]
        name = "b"
        """,
        3,
        "rule 'a': unknown field 'frequncy'; did you mean 'frequency'?",
        id="unknown-field",
    ),
    pytest.param(
        """
        [[segment]]
        name = "a"
        description = "x"
        p_alive = { atleast = 0.5 }
        [[segment]]
        name = "b"
        """,
        4,
        "rule 'a': unknown operator 'atleast' for 'p_alive'",
        id="unknown-operator",
    ),
    pytest.param(
        """
        [[segment]]
        name = "a"
        p_alive = { min = 0.8, max = 0.2 }
        [[segment]]
        name = "b"
        """,
        3,
        "rule 'a': no value can meet 0.8 <= p_alive <= 0.2",
        id="min-above-max",
    ),
    pytest.param(
        """
        [[segment]]
        name = "a"
        p_alive = { min = 0.2, above = 0.3 }
        [[segment]]
        name = "b"
        """,
        3,
        "gives both min and above",
        id="overlapping-bounds",
    ),
    pytest.param(
        """
        [[segment]]
        name = "a"
        p_alive = { min = 0.5 }
        frequency = { min = 1 }
        p_alive = { max = 0.9 }
        [[segment]]
        name = "b"
        """,
        5,
        "not valid TOML: Cannot overwrite a value (column 24). A key is given twice",
        id="field-twice-in-a-rule",
    ),
    pytest.param(
        """
        [[segment]]
        name = "a"
        p_alive = { min = 0.5 }

        [[segment]]
        name = "a"
        p_alive = { max = 0.4 }

        [[segment]]
        name = "c"
        """,
        6,
        "duplicate segment name 'a': already the name of an earlier rule (line 2)",
        id="duplicate-name",
    ),
    pytest.param(
        """
        [[segment]]
        name = "a"
        p_alive = { min = 0.5 }
        [[segment]]
        name = "b"
        p_alive = { max = 0.5 }
        """,
        5,
        "the last rule 'b' has conditions",
        id="no-catch-all",
    ),
    pytest.param(
        """
        [[segment]]
        name = "a"
        p_alive = { min = 0.5 }
        [[segment]]
        name = "everyone"
        [[segment]]
        name = "c"
        """,
        5,
        "rule 'everyone' has no conditions",
        id="catch-all-not-last",
    ),
    pytest.param(
        """
        [[segment]]
        name = "alive"
        p_alive = { min = 0.5 }
        [[segment]]
        name = "alive_repeat"
        p_alive = { above = 0.6 }
        is_repeat = true
        [[segment]]
        name = "rest"
        """,
        5,
        "rule 'alive_repeat' can never match: every customer it selects is taken first by "
        "the earlier rule 'alive' (line 2)",
        id="rule-contained-in-earlier",
    ),
    pytest.param(
        """
        [[segment]]
        name = "a"
        p_alive = { min = "high" }
        [[segment]]
        name = "b"
        """,
        3,
        "'p_alive' min must be a number, not \"high\"",
        id="wrong-type",
    ),
    pytest.param(
        """
        [[segment]]
        name = "a"
        is_repeat = { min = 1 }
        [[segment]]
        name = "b"
        """,
        3,
        "'is_repeat' is a bool field; use equals or in",
        id="bound-on-bool",
    ),
    pytest.param(
        """
        version = 2
        [[segment]]
        name = "b"
        """,
        1,
        "unknown top-level key 'version'",
        id="top-level-key",
    ),
    pytest.param(
        """
        [segment]
        name = "b"
        """,
        1,
        "write each rule under [[segment]]",
        id="single-table",
    ),
    pytest.param(
        """
        [[segment]]
        description = "no name"
        """,
        1,
        "rule 1 needs a name",
        id="no-name",
    ),
]


@pytest.mark.parametrize(("body", "line", "fragment"), INVALID)
def test_invalid_rules_name_the_line(tmp_path, body, line, fragment):
    path = tmp_path / "bad.toml"
    path.write_text(rules_text(body))
    with pytest.raises(DataError) as info:
        load_rules(path)
    message = str(info.value)
    assert f"segment rules {path}, line {line}: " in message
    assert fragment in message
    assert "\n" not in message


def test_empty_rules_file(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text("# nothing yet\n")
    with pytest.raises(DataError, match=r"no rules: add \[\[segment\]\] tables"):
        load_rules(path)


def test_missing_rules_file(tmp_path):
    with pytest.raises(DataError, match="rules file not found"):
        load_rules(tmp_path / "nope.toml")


# ------------------------------------------------------------------ bad scores
def test_missing_columns_are_named(scores):
    with pytest.raises(DataError) as info:
        segment_customers(scores.drop(columns=["p_alive", "clv"]))
    assert "the scores table has no column 'p_alive', 'clv'" in str(info.value)


def test_columns_a_custom_rule_uses_are_required(scores):
    rules = parse_rules('[[segment]]\nname = "a"\nclv_high = { min = 1 }\n[[segment]]\nname = "b"')
    with pytest.raises(DataError, match="no column 'clv_high'"):
        segment_customers(scores.drop(columns=["clv_high"]), rules=rules)


def test_bad_values_are_reported(scores):
    bad = scores.astype({"p_alive": object})
    bad.loc[2, "p_alive"] = "high"
    with pytest.raises(DataError, match=r"column 'p_alive': values that are not numbers \(1 row"):
        segment_customers(bad)
    out_of_range = scores.assign(p_alive=scores["p_alive"] * 2)
    with pytest.raises(DataError, match=r"P\(alive\) outside 0 to 1"):
        segment_customers(out_of_range)
    with pytest.raises(DataError, match="recency larger than T"):
        segment_customers(scores.assign(recency=scores["T"] + 1))
    with pytest.raises(DataError, match="no rows"):
        segment_customers(scores.iloc[:0])


# ------------------------------------------------------------------ CLI
def invoke(*args: str):
    return CliRunner().invoke(segment, list(args), catch_exceptions=False)


def test_cli_writes_segments_and_summary(scores, tmp_path):
    source = tmp_path / "scores.parquet"
    scores.to_parquet(source)
    out = tmp_path / "out" / "segments.parquet"
    result = invoke(str(source), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "rules: default rules: clvmodels/segment_rules.toml" in result.output
    assert "high_value" in result.output and "lost" in result.output
    written = pd.read_parquet(out)
    assert by_id(written, "segment") == EXPECTED
    summary = pd.read_parquet(tmp_path / "out" / "segments_summary.parquet")
    assert summary["segment"].tolist() == DEFAULT_NAMES
    assert summary["customers"].sum() == 12


def test_cli_custom_rules_and_summary_path(scores, tmp_path):
    source = tmp_path / "scores.csv"
    scores.to_csv(source, index=False)
    rules = tmp_path / "rules.toml"
    rules.write_text(CUSTOM)
    out, summary = tmp_path / "seg.csv", tmp_path / "summary.json"
    result = invoke(str(source), "-o", str(out), "--rules", str(rules), "--summary", str(summary))
    assert result.exit_code == 0, result.output
    assert f"rules: {rules}" in result.output
    assert pd.read_csv(out)["segment"].value_counts()["whale"] == 2
    assert pd.read_json(summary)["segment"].tolist() == ["whale", "champions", "repeat", "other"]


def test_cli_missing_columns_exit_2_without_output(scores, tmp_path):
    source = tmp_path / "scores.csv"
    scores.drop(columns=["p_alive", "expected_purchases"]).to_csv(source, index=False)
    out = tmp_path / "seg.parquet"
    result = invoke(str(source), "-o", str(out))
    assert result.exit_code == 2
    assert "Error: the scores table has no column 'p_alive', 'expected_purchases'" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == [source]


def test_cli_failure_leaves_existing_output_untouched(scores, tmp_path):
    source = tmp_path / "scores.csv"
    scores.to_csv(source, index=False)
    out = tmp_path / "seg.csv"
    out.write_text("old output\n")
    summary = tmp_path / "seg_summary.csv"
    summary.write_text("old summary\n")
    bad_rules = tmp_path / "bad.toml"
    bad_rules.write_text('[[segment]]\nname = "a"\nfrequncy = { min = 1 }\n')
    result = invoke(str(source), "-o", str(out), "--rules", str(bad_rules))
    assert result.exit_code == 2
    assert "line 3: rule 'a': unknown field 'frequncy'" in result.output
    assert "Traceback" not in result.output
    assert out.read_text() == "old output\n"
    assert summary.read_text() == "old summary\n"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["bad.toml", "scores.csv", "seg.csv", "seg_summary.csv"]


def test_cli_rejects_bad_output_names(scores, tmp_path):
    source = tmp_path / "scores.csv"
    scores.to_csv(source, index=False)
    result = invoke(str(source), "-o", str(tmp_path / "seg.txt"))
    assert result.exit_code == 2 and "must end in" in result.output
    same = str(tmp_path / "seg.csv")
    result = invoke(str(source), "-o", same, "--summary", same)
    assert result.exit_code == 2 and "same file as the output" in result.output


def test_cli_help_has_an_example():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert "clv segment scores.parquet -o segments.parquet" in result.output
