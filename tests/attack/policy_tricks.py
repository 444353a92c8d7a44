"""Policy tricks: each is a policy text that publishes raw personal data, or hides what it
does from a reviewer. ``policy check`` must refuse every one with exit 2 (file:line)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.attack.harness import PURPOSE, policy_text


@dataclass(frozen=True)
class Trick:
    id: str
    text: str
    why: str


def _cols(**columns: str) -> str:
    return policy_text(columns)


_ALLOW = "    allow:\n      {col}:\n        publishes: {what}\n        reason: {reason}"

TRICKS: list[Trick] = [
    Trick(
        "keep_renamed_email",
        _cols(contact="{keep: null, source: email}"),
        "keep of email under an innocent output name",
    ),
    Trick(
        "keep_renamed_email_true",
        _cols(channel="{keep: true, source: email}"),
        "keep: true of email under the name channel",
    ),
    Trick(
        "keep_renamed_id_as_channel",
        _cols(channel="{keep: null, source: customer_id}"),
        "raw customer id published as 'channel'",
    ),
    Trick("keep_street", _cols(street_address="keep"), "street address kept"),
    Trick(
        "keep_postcode_city",
        _cols(postcode="keep", city="keep", birth_date="keep"),
        "exact birth date kept with postcode and city",
    ),
    Trick(
        "prefix_phone_12",
        _cols(tel="{generalise: prefix, keep: 12, source: phone}"),
        "prefix 12 of a phone: nearly the whole number",
    ),
    Trick(
        "mask_iban_keep_20",
        _cols(acct="{mask: last, n: 20, source: iban}"),
        "mask of an IBAN showing 20 characters",
    ),
    Trick(
        "mask_iban_first_20",
        _cols(acct="{mask: first, n: 20, source: iban}"),
        "mask first n=20 (which end is shown?) of an IBAN",
    ),
    Trick(
        "mask_email_width",
        _cols(mail="{mask: last, n: 4, width: 4, source: email}"),
        "mask of e-mail showing 4 (allowed limit): the TLD only; control",
    ),
    Trick(
        "prefix_email_30",
        _cols(mail="{generalise: prefix, keep: 30, source: email}"),
        "prefix 30 of an e-mail",
    ),
    Trick(
        "prefix_last_name_3",
        _cols(ln="{generalise: prefix, keep: 3, source: last_name}"),
        "prefix 3 of a surname (limit 2)",
    ),
    Trick(
        "bucket_birth_width1",
        _cols(bd="{generalise: bucket, width: 1, source: birth_date}"),
        "bucket of width 1 on a birth date",
    ),
    Trick(
        "prefix_birth_10",
        _cols(bd="{generalise: prefix, keep: 10, source: birth_date}"),
        "prefix 10 of a birth date: the whole date",
    ),
    Trick(
        "generalise_week_birth", _cols(bd="{generalise: week, source: birth_date}"), "week of birth"
    ),
    Trick(
        "generalise_hour_birth",
        _cols(bd="{generalise: hour, source: birth_date}"),
        "hour of a birth date: the exact date",
    ),
    Trick(
        "postcode_prefix_5",
        _cols(plz="{generalise: prefix, keep: 5, source: postcode}"),
        "full postcode via prefix 5",
    ),
    Trick(
        "allow_blank_reason",
        _cols(email="keep").replace(
            "  orders:",
            _ALLOW.format(col="email", what="direct_identifier", reason='"   "') + "\n  orders:",
        ),
        "exception with a whitespace reason",
    ),
    Trick(
        "allow_tab_reason",
        _cols(email="keep").replace(
            "  orders:",
            _ALLOW.format(col="email", what="direct_identifier", reason='"\\t\\u200b"')
            + "\n  orders:",
        ),
        "exception with a tab and a zero-width space as reason",
    ),
    Trick(
        "allow_dot_reason",
        _cols(email="keep").replace(
            "  orders:",
            _ALLOW.format(col="email", what="direct_identifier", reason='"."') + "\n  orders:",
        ),
        "exception with '.' as reason",
    ),
    Trick(
        "allow_wrong_kind",
        _cols(email="keep").replace(
            "  orders:",
            _ALLOW.format(col="email", what="precise_location", reason="DPO ok") + "\n  orders:",
        ),
        "exception for the wrong kind",
    ),
    Trick(
        "duplicate_via_merge",
        _cols(notes="scrub").replace(
            "    columns:\n      customer_id",
            ("    columns:\n      <<: {last_name: keep}\n      customer_id"),
            1,
        ),
        "merge key adds last_name: keep the reviewer does not see as a column line",
    ),
    Trick(
        "merge_two_anchors",
        (
            "x-safe: &safe {notes: scrub}\nx-raw: &raw {notes: keep}\n"
            + _cols().replace(
                "      loyalty_tier: keep", "      loyalty_tier: keep\n      <<: [*raw, *safe]"
            )
        ),
        "two merged mappings define notes; the first (raw) wins silently",
    ),
    Trick(
        "duplicate_in_flow",
        _cols(notes="{scrub: null, scrub: null}"),
        "duplicate key inside a flow mapping",
    ),
    Trick(
        "duplicate_quoted",
        _cols(notes="scrub").replace(
            "      notes: scrub", "      notes: scrub\n      'notes': keep"
        ),
        "the same key once plain, once quoted",
    ),
    Trick(
        "duplicate_source",
        _cols(notes="scrub") + "  customers:\n    key: customer_id\n"
        "    columns:\n      customer_id: pseudonymise\n      last_name: keep\n",
        "a source given twice at the end",
    ),
    Trick(
        "second_document",
        _cols(notes="scrub") + "---\n" + _cols(notes="keep"),
        "a second YAML document",
    ),
    Trick(
        "tabs_indent",
        _cols(notes="scrub").replace("      notes: scrub", "\t\t\tnotes: keep"),
        "tab indentation",
    ),
    Trick(
        "identifying_also_published",
        _cols(first_name="keep"),
        "first_name kept while also listed in identifying",
    ),
    Trick(
        "categories_loosen",
        _cols(email="keep").replace(
            "    columns:", "    categories: {email: other}\n    columns:", 1
        ),
        "categories: declares email as other",
    ),
    Trick(
        "coarsen_grid_lat_swapped", policy_text({}, extra_source=""), "control: no location columns"
    ),
    Trick(
        "reserved_purpose",
        _cols().replace(f"purpose: {PURPOSE}", "purpose: Minimizer_Audit"),
        "reserved schema in upper case",
    ),
    Trick(
        "reserved_source_case",
        _cols()
        .replace("  customers:\n", "  customers:\n    table: customers\n", 1)
        .replace("  orders:\n    key", "  Suppressed_Subjects:\n    table: orders\n    key"),
        "reserved table name in mixed case",
    ),
]


def identity_hierarchy(directory, values, column: str = "last_name") -> Trick:
    """An ARX hierarchy whose level 1 is every value itself: level > 0 passes as 'nothing'."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = sorted({str(v) for v in values})
    (directory / "ident.csv").write_text("".join(f"{v};{v};*\n" for v in rows))
    text = _cols(grp=f"{{generalise: hierarchy, file: ident.csv, level: 1, source: {column}}}")
    return Trick(f"identity_hierarchy_{column}", text, f"hierarchy level 1 == {column} itself")


TRICKS += [
    Trick(
        "merge_list_first_wins",
        _cols().replace(
            "      loyalty_tier: keep",
            "      loyalty_tier: keep\n      <<: [{notes: keep}, {notes: scrub}]",
        ),
        "two merged mappings define notes; the first (keep) wins, no duplicate reported",
    ),
    Trick(
        "merge_overrides_explicit",
        _cols().replace(
            "      loyalty_tier: keep",
            "      <<: {loyalty_tier: {mask: first, n: 1}}\n      loyalty_tier: keep",
        ),
        "merge key and explicit key: a duplicate the duplicate check skips",
    ),
]
