"""SQL fingerprints: literals, placeholders, IN-list lengths and generated names merge."""

import pytest

from monitoring.fingerprint import fingerprint, group

SAME_FINGERPRINT = [
    (
        'SELECT "t"."id" FROM "trackers_tracker" "t" WHERE "t"."id" IN (%s, %s, %s) LIMIT 21',
        'SELECT "t"."id" FROM "trackers_tracker" "t" WHERE "t"."id" IN (%s) LIMIT 5',
    ),
    (
        "SELECT * FROM users WHERE email = 'alice@example.com' AND age > 30",
        "SELECT * FROM users WHERE email = 'bob@example.org' AND age > 41.5",
    ),
    ("SELECT * FROM t WHERE id IN (1, 2, 3, 4, 5)", "SELECT * FROM t WHERE id IN (9)"),
    ("SELECT * FROM t WHERE name = 'O''Brien'", "SELECT * FROM t WHERE name = 'x'"),
    (
        'INSERT INTO "h" ("a", "b") VALUES (%s, %s), (%s, %s), (%s, %s)',
        'INSERT INTO "h" ("a", "b") VALUES (%s, %s)',
    ),
    ('SAVEPOINT "s139968_x1"', 'SAVEPOINT "s140001_x27"'),
    ('RELEASE SAVEPOINT "s139968_x1"', 'RELEASE SAVEPOINT "s2_x3"'),
    ("SELECT $1, $2 FROM t -- trailing comment", "SELECT $7,  $9 FROM t /* c */"),
    ("SELECT  *\n FROM   t\tWHERE x = 1", "SELECT * FROM t WHERE x = 2"),
]


@pytest.mark.parametrize(("first", "second"), SAME_FINGERPRINT)
def test_statements_differing_only_in_literals_share_a_fingerprint(first, second):
    assert fingerprint(first) == fingerprint(second)


def test_fingerprint_keeps_the_statement_shape_without_literals():
    fp = fingerprint("SELECT name FROM users WHERE email = 'alice@example.com' AND id IN (1, 2) AND n = 42")
    assert fp == "SELECT name FROM users WHERE email = ? AND id IN (?) AND n = ?"
    assert "alice" not in fp and "42" not in fp


def test_identifiers_with_digits_are_not_literals():
    assert fingerprint('SELECT "col2" FROM "table3" WHERE "t1"."x" = 1') == (
        'SELECT "col2" FROM "table3" WHERE "t1"."x" = ?'
    )


def test_different_statements_keep_different_fingerprints():
    assert fingerprint("SELECT a FROM t WHERE x = 1") != fingerprint("SELECT b FROM t WHERE x = 1")
    assert fingerprint("SELECT a FROM t WHERE x = 1") != fingerprint("SELECT a FROM t WHERE x > 1")


def test_very_long_statements_are_truncated():
    sql = "SELECT " + ", ".join(f'"column_{i}"' for i in range(500)) + " FROM t"
    assert len(fingerprint(sql)) <= 400


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ('SELECT "a" FROM "trackers_tracker" WHERE x = 1', "select trackers_tracker"),
        ('INSERT INTO "cachecore_cacheentry" ("a") VALUES (%s)', "insert cachecore_cacheentry"),
        ('UPDATE "trackers_tracker" SET "a" = %s', "update trackers_tracker"),
        ('DELETE FROM "django_session" WHERE 1', "delete django_session"),
        ('SAVEPOINT "s1_x2"', "savepoint"),
        ("SELECT 1", "select"),
        ("SELECT x FROM (SELECT y FROM inner_table) sub", "select inner_table"),
        ('CREATE TABLE "trackers_tracker" ("id" integer)', "create"),
        ('ALTER TABLE "trackers_tracker" ADD COLUMN "x" integer', "alter"),
        ("PRAGMA foreign_key_check", "pragma"),
    ],
)
def test_group_is_verb_and_first_table_for_data_statements(sql, expected):
    assert group(sql) == expected
