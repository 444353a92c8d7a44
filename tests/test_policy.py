import json
from pathlib import Path

import pytest

from minimizer.cli import main
from minimizer.errors import PolicyError
from minimizer.policy import (
    MAX_DURATION,
    Policy,
    disclosure_problems,
    load_policy,
    parse_duration,
    policy_json_schema,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "policies"
EXAMPLES = sorted((ROOT / "configs" / "purposes").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_policy_loads(path):
    policy = load_policy(path)
    assert policy.purpose == path.stem
    assert len(policy.sha256) == 64


def test_the_three_required_examples_exist():
    assert {"churn_analysis", "footfall_heatmap", "marketing_segments"} <= {
        p.stem for p in EXAMPLES
    }


def test_an_unknown_action_names_file_line_field_and_the_allowed_ones():
    with pytest.raises(PolicyError) as info:
        load_policy(FIXTURES / "unknown_action.yaml")
    (problem,) = info.value.problems
    assert problem.file.endswith("unknown_action.yaml")
    assert problem.line == 10
    assert problem.path == "sources.customers.columns.customer_id"
    assert "did you mean pseudonymise?" in problem.message
    assert "allowed:" in problem.message and "{generalise: month}" in problem.message


def test_all_problems_are_reported_at_once():
    with pytest.raises(PolicyError) as info:
        load_policy(FIXTURES / "many_problems.yaml")
    by_path = {p.path: p for p in info.value.problems}
    assert (
        by_path["legal_basis"].line == 3 and "legitimate_interest" in by_path["legal_basis"].message
    )
    assert by_path["retention"].line == 5 and "400d" in by_path["retention"].message
    assert "unknown field 'colums'" in by_path["sources.customers.colums"].message
    assert "did you mean 'columns'?" in by_path["sources.customers.colums"].message
    assert by_path["sources.customers.columns.age"].line == 10
    assert "width" in by_path["sources.customers.columns.age"].message
    assert "lon" in by_path["sources.customers.columns.cell"].message


def test_a_guarantee_must_name_published_columns():
    with pytest.raises(
        PolicyError, match=r"names \['postcode'\].*output columns: \['loyalty_tier'\]"
    ):
        load_policy(FIXTURES / "guarantee_on_unpublished_column.yaml")


def test_broken_yaml_points_at_the_line():
    with pytest.raises(PolicyError) as info:
        load_policy(FIXTURES / "broken_yaml.yaml")
    assert info.value.problems[0].line is not None
    assert "not valid YAML" in str(info.value)


def test_purpose_must_match_the_file_name(tmp_path):
    path = tmp_path / "churn.yaml"
    path.write_text((ROOT / "configs/purposes/churn_analysis.yaml").read_text())
    with pytest.raises(PolicyError, match="must equal the file name 'churn'"):
        load_policy(path)


def test_a_missing_file_is_a_policy_error(tmp_path):
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("text", "days"), [("400d", 400), ("12w", 84), ("2y", 730), ("36h", 1.5)])
def test_durations(text, days):
    assert parse_duration(text).total_seconds() / 86400 == days


def test_json_schema_lists_every_action_and_is_json():
    schema = policy_json_schema()
    titles = {a.get("title") or a.get("const") for a in schema["$defs"]["Action"]["oneOf"]}
    assert {"keep", "drop", "pseudonymise", "generalise: month", "coarsen: h3"} <= titles
    json.dumps(schema)


def test_errors_never_quote_values(tmp_path):
    path = tmp_path / "leaky.yaml"
    path.write_text(
        "description: d\nlegal_basis: consent\nowner: o\nretention: 1d\n"
        "sources:\n  s:\n    columns:\n      email: {mask: last, n: alice@example.com}\n"
    )
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert "alice@example.com" not in str(info.value)


# -- issue 9: policies that publish identifiers are refused, each at its own line --------------

REFUSED = [
    "keeps_names",
    "keeps_online_identifiers",
    "mask_shows_a_name",
    "prefix_keeps_a_name",
    "day_of_birth",
    "keeps_gps",
    "fine_grid",
    "duplicate_column_key",
    "exception_without_reason",
    "minimizer_audit",
    "retention_overflow",
    "retention_3000y",
    "all_problems_in_one_pass",
]


def _marked_lines(path: Path) -> set[int]:
    """Lines a fixture marks with '# refused': exactly where the problems must be reported."""
    return {n for n, line in enumerate(path.read_text().splitlines(), 1) if "# refused" in line}


@pytest.mark.parametrize("case", REFUSED)
def test_policy_check_refuses_each_mistake_at_its_line(case, capsys):
    path = FIXTURES / f"{case}.yaml"
    assert main(["policy", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for line in _marked_lines(path):
        assert f"{case}.yaml:{line} " in err, (line, err)


@pytest.mark.parametrize("case", REFUSED)
def test_every_problem_is_at_a_marked_line_and_every_marked_line_has_one(case):
    path = FIXTURES / f"{case}.yaml"
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert {p.line for p in info.value.problems} == _marked_lines(path)


@pytest.mark.parametrize(
    ("case", "field", "words"),
    [
        ("keeps_names", "sources.customers.columns.first_name", "direct identifier unchanged"),
        ("keeps_online_identifiers", "sources.web_profiles.columns.device_id", "unchanged"),
        ("keeps_online_identifiers", "sources.web_profiles.columns.profile_url", "unchanged"),
        ("mask_shows_a_name", "sources.customers.columns.name_hint", "at most 2 may show"),
        ("prefix_keeps_a_name", "sources.customers.columns.first", "shows 32 character(s)"),
        ("day_of_birth", "sources.customers.columns.born", "exact birth date"),
        ("keeps_gps", "sources.events.columns.lon", "exact coordinates"),
        ("fine_grid", "sources.events.columns.spot", "at most decimals 2"),
        ("duplicate_column_key", "sources.customers.columns.last_name", "(lines 9 and 11)"),
    ],
)
def test_a_refusal_names_the_field_and_what_is_allowed(case, field, words):
    with pytest.raises(PolicyError) as info:
        load_policy(FIXTURES / f"{case}.yaml")
    messages = [p.message for p in info.value.problems if p.path == field]
    assert any(words in m for m in messages), messages
    assert all("allowed:" in m or "given twice" in m for m in messages)


def test_the_refusals_keep_what_is_fine_in_the_same_files():
    # A 3-character postcode prefix, a year of birth, an age band and a 2-decimal grid pass.
    fine = {
        "prefix_keeps_a_name": ("postcode_area",),
        "day_of_birth": ("born_year", "age_band"),
        "fine_grid": ("area",),
    }
    for case, outputs in fine.items():
        with pytest.raises(PolicyError) as info:
            load_policy(FIXTURES / f"{case}.yaml")
        paths = {p.path for p in info.value.problems}
        assert not [o for o in outputs if any(p.endswith(f".{o}") for p in paths)], case


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


HEAD = "description: d\nlegal_basis: consent\nowner: o\nretention: 30d\nsources:\n"


def test_a_reasoned_exception_is_accepted_and_listed():
    policy = load_policy(FIXTURES / "exception_with_reason.yaml")
    (exc,) = policy.exceptions()
    assert exc["column"] == "first_name" and exc["publishes"] == "direct_identifier"
    assert exc["reason"].startswith("Greeting cards")


@pytest.mark.parametrize(
    ("allow", "words"),
    [
        ("{first_name: {publishes: direct_identifier}}", "required field 'reason'"),
        (
            "{first_name: {publishes: precise_location, reason: agreed with the DPO}}",
            "nothing to allow",
        ),
        (
            "{frist_name: {publishes: direct_identifier, reason: agreed with the DPO}}",
            "did you mean 'first_name'",
        ),
        ("{first_name: {publishes: everything, reason: agreed with the DPO}}", "direct_identifier"),
    ],
)
def test_an_exception_must_match_a_refusal_and_give_a_reason(tmp_path, allow, words):
    text = HEAD + (
        "  customers:\n    columns:\n      customer_id: pseudonymise\n      first_name: keep\n"
        f"    allow: {allow}\n"
    )
    with pytest.raises(PolicyError) as info:
        load_policy(_write(tmp_path, "exceptions", text))
    assert words in str(info.value)


def test_an_exception_for_another_category_does_not_cover_a_refusal(tmp_path):
    text = HEAD + (
        "  events:\n    kind: events\n    columns:\n      customer_id: pseudonymise\n"
        "      lat: keep\n    allow: {lat: {publishes: direct_identifier, reason: agreed with the DPO}}\n"
    )
    with pytest.raises(PolicyError) as info:
        load_policy(_write(tmp_path, "wrong_allow", text))
    text = str(info.value)
    assert "exact coordinates" in text and "nothing to allow" in text


def test_a_declared_category_makes_a_column_stricter(tmp_path):
    text = HEAD + (
        "  customers:\n    categories: {shoe_size: direct_identifier}\n    columns:\n"
        "      customer_id: pseudonymise\n      shoe_size: keep\n"
    )
    with pytest.raises(PolicyError, match="'shoe_size' is a direct identifier \\(by policy\\)"):
        load_policy(_write(tmp_path, "declared", text))


def test_a_declared_category_for_an_unread_column_suggests_the_read_one(tmp_path):
    text = HEAD + (
        "  customers:\n    categories: {nots: free_text}\n    columns:\n"
        "      customer_id: pseudonymise\n      notes: scrub\n"
    )
    with pytest.raises(PolicyError, match="did you mean 'notes'"):
        load_policy(_write(tmp_path, "declared_typo", text))


@pytest.mark.parametrize(
    ("text", "line", "path"),
    [
        (HEAD.replace("owner: o\n", "owner: o\nowner: p\n"), 4, "owner"),
        (
            HEAD + "  s:\n    columns: {channel: keep}\n  s:\n    columns: {page: keep}\n",
            8,
            "sources.s",
        ),
        (
            HEAD + "  s:\n    columns: {channel: keep}\nguarantees:\n  risk:\n"
            "    unicity_points: 4\n    unicity_points: 2\n",
            11,
            "guarantees.risk.unicity_points",
        ),
    ],
)
def test_a_key_given_twice_anywhere_is_an_error_naming_both_lines(tmp_path, text, line, path):
    with pytest.raises(PolicyError) as info:
        load_policy(_write(tmp_path, "dupes", text))
    (problem,) = [p for p in info.value.problems if "given twice" in p.message]
    assert problem.line == line and problem.path == path
    assert f"and {line})" in problem.message


@pytest.mark.parametrize(
    "columns",
    [
        # two merged mappings both define notes: PyYAML keeps the first silently
        "      customer_id: pseudonymise\n      <<: [{notes: keep}, {notes: scrub}]\n",
        # a merged key and an explicit one: a duplicate PyYAML resolves without a word
        "      customer_id: pseudonymise\n      <<: {notes: keep}\n      notes: scrub\n",
        # a merge inside an action, through an alias
        "      base: &b {generalise: month, source: d}\n      other: {<<: *b, source: e}\n",
    ],
)
def test_yaml_merge_keys_are_refused_with_their_line(tmp_path, columns):
    text = HEAD + "  s:\n    columns:\n" + columns
    with pytest.raises(PolicyError) as info:
        load_policy(_write(tmp_path, "merged", text))
    (problem,) = [p for p in info.value.problems if "merge keys" in p.message]
    assert problem.line == 8 + columns.split("<<")[0].count("\n")
    assert "write the columns out" in problem.message


def test_an_alias_without_a_merge_is_read_as_written(tmp_path):
    text = HEAD + ("  s:\n    columns:\n      d: &m {generalise: month}\n      e: *m\n")
    policy = load_policy(_write(tmp_path, "aliased", text))
    assert set(policy.sources["s"].columns) == {"d", "e"}


_ALLOW_EMAIL = HEAD + (
    "  customers:\n    columns:\n      customer_id: pseudonymise\n      email: keep\n"
    "    allow:\n      email:\n        publishes: direct_identifier\n        reason: {reason}\n"
)


@pytest.mark.parametrize(
    "reason",
    [
        '"   "',
        '"\\t\\u200b"',
        '"."',
        '"\\u200b\\u200d\\ufeff"',
        '"ok ok"',
        "DPO ok",
        '"a b c d e f g h i j k l m"',
        '"\\u2060consent\\u200b\\u200b"',
    ],
)
def test_an_exception_reason_needs_words_a_reviewer_can_read(tmp_path, reason):
    with pytest.raises(PolicyError) as info:
        load_policy(_write(tmp_path, "reason", _ALLOW_EMAIL.format(reason=reason)))
    (problem,) = [p for p in info.value.problems if "reason" in p.message]
    assert "at least 2 words and 12 letters" in problem.message
    assert problem.line == 13


def test_a_reason_of_a_few_words_is_accepted_without_its_invisible_characters(tmp_path):
    text = _ALLOW_EMAIL.format(reason='"\\u200bNewsletter by e-mail, agreed with the DPO"')
    (exc,) = load_policy(_write(tmp_path, "reason", text)).exceptions()
    assert exc["reason"] == "Newsletter by e-mail, agreed with the DPO"


@pytest.mark.parametrize("action", ["{generalise: bucket, width: 1}",
                                    "{generalise: bucket, edges: [0, 10000, 20000]}"])  # fmt: skip
def test_a_numeric_bucket_over_a_birth_date_is_refused_at_check(tmp_path, action):
    text = HEAD + f"  s:\n    columns:\n      bd: {action[:-1]}, source: birth_date}}\n"
    with pytest.raises(PolicyError) as info:
        load_policy(_write(tmp_path, "bucket", text))
    (problem,) = info.value.problems
    assert problem.line == 8 and "numeric bucket cannot read a date" in problem.message
    assert "age_band" in problem.message and "year" in problem.message


def _hierarchy_policy(tmp_path: Path, column: str, rows: list[str], level: int = 1) -> Path:
    (tmp_path / "h.csv").write_text("".join(r + "\n" for r in rows))
    text = HEAD + (
        f"  s:\n    columns:\n      customer_id: pseudonymise\n"
        f"      grp: {{generalise: hierarchy, file: h.csv, level: {level}, source: {column}}}\n"
    )
    return _write(tmp_path, "hier", text)


_SURNAMES = ["Bauer", "Becker", "Fischer", "Hoffmann", "Koch", "Meyer", "Schmidt", "Wagner"]


@pytest.mark.parametrize(
    ("column", "rows", "level"),
    [
        # level 1 is the surname itself
        ("last_name", [f"{v};{v};*" for v in _SURNAMES], 1),
        # level 1 is the surname in lower case: every value still apart
        ("last_name", [f"{v};{v.lower()};*" for v in _SURNAMES], 1),
        # level 2 of three still the value, one pair joined
        (
            "email",
            [f"{v}@x.de;{v}@x.de;{v}@x.de;*" for v in _SURNAMES[1:]]
            + ["a@x.de;g;g;*", "b@x.de;g;g;*"],
            2,
        ),
        # a birth date and a precise location are measured the same way
        ("birth_date", ["1985-03-12;1985-03-12;*", "1990-01-01;1990-01-01;*"], 1),
        ("lat", ["52.520008;52.520008;*", "48.137154;48.137154;*"], 1),
    ],
)
def test_a_hierarchy_level_that_keeps_the_values_apart_is_refused(tmp_path, column, rows, level):
    with pytest.raises(PolicyError) as info:
        load_policy(_hierarchy_policy(tmp_path, column, rows, level))
    (problem,) = info.value.problems
    assert problem.line == 9 and problem.path == "sources.s.columns.grp"
    assert f"level {level} of h.csv keeps" in problem.message and "allowed:" in problem.message
    for row in rows:  # names what was measured, never a value of the file
        assert row.split(";")[0] not in problem.message


def test_a_hierarchy_level_that_groups_the_values_passes(tmp_path):
    # level 1: two ranges of four surnames each, level 2: everything
    rows = [f"{v};{'A-G' if v < 'H' else 'H-Z'};*" for v in _SURNAMES]
    load_policy(_hierarchy_policy(tmp_path, "last_name", rows, 1))
    load_policy(_hierarchy_policy(tmp_path, "last_name", rows, 2))
    with pytest.raises(PolicyError, match="unchanged"):
        load_policy(_hierarchy_policy(tmp_path, "last_name", rows, 0))


# -- issue 10: reserved names and retention bounds ---------------------------------------------


def test_the_reserved_names_cover_what_minimizer_writes():
    from minimizer.io.warehouse import AUDIT_SCHEMA, AUDIT_TABLE
    from minimizer.policy import RESERVED_SCHEMAS, RESERVED_TABLES, reserved_name
    from minimizer.rights.requests import REQUESTS_TABLE
    from minimizer.rights.sql import ERASURES, SUPPRESSED

    assert AUDIT_SCHEMA in RESERVED_SCHEMAS
    assert {AUDIT_TABLE, ERASURES, SUPPRESSED, REQUESTS_TABLE} <= RESERVED_TABLES
    for schema in ("minimizer_audit", "minimizer_registry", "pg_temp", "main", "Public"):
        assert reserved_name("schema", schema)
    for table in ("suppressed_subjects", "runs", "minimizer_x", "mz_rekey_0a1b"):
        assert reserved_name("table", table)
    assert reserved_name("schema", "churn_analysis") is None
    assert reserved_name("table", "customers") is None


def test_a_reserved_source_table_is_refused(tmp_path):
    text = HEAD + "  copy:\n    table: suppressed_subjects\n    columns: {digest: keep}\n"
    with pytest.raises(PolicyError) as info:
        load_policy(_write(tmp_path, "reserved_table", text))
    (problem,) = info.value.problems
    assert problem.path == "sources.copy.table" and "reserves" in problem.message


def test_reserved_names_are_refused_in_memory_too():
    with pytest.raises(ValueError, match="reserves"):
        Policy.model_validate(
            {
                "purpose": "minimizer_audit",
                "description": "d",
                "legal_basis": "consent",
                "owner": "o",
                "retention": "1d",
                "sources": {"runs": {"columns": {"channel": "keep"}}},
            }
        )


@pytest.mark.parametrize("text", ["99999999999y", "3000y", "101y", "36501d", "0d", "0h"])
def test_durations_beyond_100_years_or_zero_are_refused(text):
    with pytest.raises(ValueError, match="up to 100y"):
        parse_duration(text)


def test_the_longest_retention_has_a_cutoff():
    from datetime import UTC, datetime

    longest = parse_duration("100y")
    assert longest == MAX_DURATION
    assert datetime(2026, 12, 1, tzinfo=UTC) - longest > datetime(1900, 1, 1, tzinfo=UTC)


# -- issue 13: all errors in one pass, at the right line, with a did-you-mean ------------------


def test_a_k_anonymity_column_that_is_not_published_is_reported_at_its_own_line():
    path = FIXTURES / "all_problems_in_one_pass.yaml"
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    by_path = {p.path: p for p in info.value.problems}
    typo = by_path["guarantees.k_anonymity.quasi_identifiers.1"]
    assert typo.line == 29 and "did you mean 'postcode_area'?" in typo.message
    assert by_path["guarantees.k_anonymity.quasi_identifiers.2"].line == 30
    # ... reported beside the wrong legal basis, a refusal and a too fine H3 cell
    assert by_path["legal_basis"].line == 2
    assert by_path["sources.customers.columns.first_name"].line == 11
    assert by_path["sources.events.columns.cell"].line == 21
    lines = [p.line or 0 for p in info.value.problems]
    assert lines == sorted(lines)


def test_json_schema_documents_categories_and_exceptions():
    source = policy_json_schema()["$defs"]["SourceSpec"]["properties"]
    assert {"categories", "allow"} <= set(source)


def test_run_refuses_the_same_policy_before_reading_any_data(tmp_path, capsys):
    warehouse = tmp_path / "w.duckdb"
    code = main(
        [
            "run",
            str(FIXTURES / "keeps_gps.yaml"),
            "--sources",
            str(tmp_path / "no_sources_needed"),
            "--warehouse",
            str(warehouse),
        ]
    )
    assert code == 2
    assert "keeps_gps.yaml:12 at 'sources.events.columns.lat'" in capsys.readouterr().err
    assert not warehouse.exists()


def test_a_policy_built_in_memory_can_be_checked_the_same_way():
    policy = Policy.model_validate(
        {
            "purpose": "p",
            "description": "d",
            "legal_basis": "consent",
            "owner": "o",
            "retention": "1d",
            "sources": {"s": {"columns": {"customer_id": "pseudonymise", "email": "keep"}}},
        }
    )
    (problem,) = disclosure_problems(policy)
    assert problem.path == "sources.s.columns.email" and problem.line is None
    assert disclosure_problems(load_policy(ROOT / "configs/purposes/churn_analysis.yaml")) == []
