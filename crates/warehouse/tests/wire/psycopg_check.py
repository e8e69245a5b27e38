"""Parameterised queries of each common type through psycopg 3, text and binary results.

Run by the `psycopg_runs_parameterised_queries_of_each_type` test with the endpoint's port.
"""
import datetime as dt
import sys
from decimal import Decimal

import psycopg

port = int(sys.argv[1])
conn = psycopg.connect(host="127.0.0.1", port=port, user="analyst", dbname="pulse", autocommit=True)


def one(sql, params, binary=False):
    with conn.cursor(binary=binary) as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
        assert len(rows) == 1, (sql, params, rows)
        return rows[0]


for binary in (False, True):
    # Parameters in WHERE clauses, one per column type.
    cases = [
        ("select i4 from typed where i2 = %s", (2,), 20),
        ("select i4 from typed where i4 = %s", (30,), 30),
        ("select i4 from typed where i8 = %s", (3000000000,), 20),
        ("select i4 from typed where f4 = %s", (0.25,), 30),
        ("select i4 from typed where f8 = %s", (2.25,), 10),
        ("select i4 from typed where amount = %s", (Decimal("-0.01"),), 20),
        ("select i4 from typed where flag = %s and i4 < %s", (False, 40), 20),
        ("select i4 from typed where label = %s", ("beta ünïcode",), 20),
        ("select i4 from typed where day = %s", (dt.date(2000, 2, 29),), 30),
        ("select i4 from typed where at_local = %s", (dt.datetime(2026, 1, 2, 3, 4, 5, 123456),), 10),
        ("select i4 from typed where at_utc = %s",
         (dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc),), 20),
        ("select i4 from typed where raw = %s", (b"\x00\xff\x10",), 10),
    ]
    for sql, params, expected in cases:
        got = one(sql, params, binary)[0]
        assert got == expected, (binary, sql, params, got)

    # Values come back as the Python types they are.
    row = one(
        "select i2, i4, i8, f4, f8, amount, flag, label, day, at_local, at_utc, raw "
        "from typed where i4 = %s",
        (10,),
        binary,
    )
    expected = (
        1, 10, 100, 1.5, 2.25, Decimal("12.34"), True, "alpha", dt.date(2026, 1, 2),
        dt.datetime(2026, 1, 2, 3, 4, 5, 123456),
        dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.timezone.utc),
        b"\x00\xff\x10",
    )
    for i, (g, e) in enumerate(zip(row, expected)):
        assert g == e and type(g) is type(e), (binary, i, g, e)
    nulls = one("select i2, i8, f8, amount, flag, label, day, at_local, raw from typed where i4 = %s", (40,), binary)
    assert all(v is None for v in nulls), nulls

    # A prepared statement reused with different parameters.
    with conn.cursor(binary=binary) as cur:
        for i4, label in [(10, "alpha"), (20, "beta ünïcode"), (30, 'it\'s "quoted"')]:
            cur.execute("select label from typed where i4 = %s", (i4,), prepare=True)
            assert cur.fetchone()[0] == label

# Errors leave the connection usable.
try:
    one("select * from no_such_table where a = %s", (1,))
    raise AssertionError("unknown table accepted")
except psycopg.errors.UndefinedTable:
    pass
try:
    one("insert into typed (i4) values (%s)", (1,))
    raise AssertionError("write accepted")
except psycopg.errors.ReadOnlySqlTransaction:
    pass
assert one("select count(*) from typed where i4 > %s", (0,))[0] == 4
print("psycopg ok")
