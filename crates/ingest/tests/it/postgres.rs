use crate::{pg_url, unique};
use arrow::array::{
    Array, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    Int16Array, Int32Array, Int64Array, ListArray, StringArray, Time64MicrosecondArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use pulse_ingest::Collect;
use pulse_ingest::postgres::PgSession;
use pulse_ingest::server::ReadRequest;
use pulse_project::ConnectionString;
use std::collections::BTreeSet;

/// A schema of the test's own, dropped at the end.
struct Schema {
    name: String,
    admin: postgres::Client,
}

impl Schema {
    fn new(tag: &str) -> Schema {
        let mut admin = postgres::Client::connect(&pg_url(), postgres::NoTls).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is not reachable ({e}): run `bash scripts/services.sh`",
                pg_url()
            )
        });
        let name = unique(tag);
        admin
            .batch_execute(&format!("CREATE SCHEMA \"{name}\""))
            .expect("create schema");
        Schema { name, admin }
    }

    fn sql(&mut self, sql: &str) {
        self.admin
            .batch_execute(&format!("SET search_path TO \"{}\"; {sql}", self.name))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    fn session(&self, connections: usize) -> PgSession {
        let url = ConnectionString::resolve(&pg_url()).expect("url");
        PgSession::open(&url, &self.name, connections).expect("session")
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = self
            .admin
            .batch_execute(&format!("DROP SCHEMA \"{}\" CASCADE", self.name));
    }
}

fn req(table: &str) -> ReadRequest {
    ReadRequest {
        table: table.to_string(),
        parallel: 1,
        batch_rows: 1000,
        ..ReadRequest::default()
    }
}

fn col<T: 'static>(c: &Collect, i: usize) -> &T {
    c.batches[0]
        .column(i)
        .as_any()
        .downcast_ref::<T>()
        .expect("column type")
}

#[test]
fn pg_types_map_to_arrow() {
    let mut s = Schema::new("t_pg_types");
    s.sql(
        "CREATE TYPE mood AS ENUM ('sad', 'happy');
         CREATE DOMAIN cents AS bigint;
         CREATE TABLE t (
           i2 smallint, i4 integer, i8 bigint, dom cents, num numeric(12,2), anynum numeric,
           f4 real, f8 double precision, b boolean, txt text, vc varchar(20), ch char(3),
           d date, tm time, ts timestamp, tstz timestamptz, j json, jb jsonb, u uuid, by bytea,
           m mood, ia integer[], ta text[], iv interval
         );
         INSERT INTO t VALUES (
           -2, 40000, 9000000000, 1234, -12345.67, 1.23456789, 1.5, 2.25, true, 'tekst ü', 'v', 'ab',
           '2026-11-05', '13:45:01.5', '2026-11-05 10:00:00.123456', '2026-11-05 10:00:00+02',
           '{\"a\": 1}', '{\"b\": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff',
           'happy', '{1,NULL,3}', '{x,y}', '1 day'
         );
         INSERT INTO t DEFAULT VALUES;",
    );
    let mut session = s.session(1);
    let mut sink = Collect::default();
    let read = session.read(&req("t"), &mut sink).expect("read");
    assert_eq!(read.rows, 2);
    let types: Vec<DataType> = read
        .schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let list = |t: DataType| {
        DataType::List(std::sync::Arc::new(arrow::datatypes::Field::new(
            "item", t, true,
        )))
    };
    assert_eq!(
        types,
        vec![
            DataType::Int16,
            DataType::Int32,
            DataType::Int64,
            DataType::Int64,
            DataType::Decimal128(12, 2),
            DataType::Utf8,
            DataType::Float32,
            DataType::Float64,
            DataType::Boolean,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Date32,
            DataType::Time64(TimeUnit::Microsecond),
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            DataType::Utf8,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Binary,
            DataType::Utf8,
            list(DataType::Int32),
            list(DataType::Utf8),
            DataType::Utf8,
        ]
    );
    assert_eq!(col::<Int16Array>(&sink, 0).value(0), -2);
    assert_eq!(col::<Int32Array>(&sink, 1).value(0), 40000);
    assert_eq!(col::<Int64Array>(&sink, 2).value(0), 9_000_000_000);
    assert_eq!(col::<Int64Array>(&sink, 3).value(0), 1234);
    assert_eq!(col::<Decimal128Array>(&sink, 4).value(0), -1_234_567);
    assert_eq!(col::<StringArray>(&sink, 5).value(0), "1.23456789");
    assert_eq!(col::<Float32Array>(&sink, 6).value(0), 1.5);
    assert_eq!(col::<Float64Array>(&sink, 7).value(0), 2.25);
    assert!(col::<BooleanArray>(&sink, 8).value(0));
    assert_eq!(col::<StringArray>(&sink, 9).value(0), "tekst ü");
    assert_eq!(col::<StringArray>(&sink, 11).value(0), "ab ");
    assert_eq!(col::<Date32Array>(&sink, 12).value(0), 20_762);
    assert_eq!(
        col::<Time64MicrosecondArray>(&sink, 13).value(0),
        (13 * 3600 + 45 * 60 + 1) * 1_000_000 + 500_000
    );
    let ts = col::<TimestampMicrosecondArray>(&sink, 14).value(0);
    assert_eq!(ts, 1_793_872_800_123_456);
    // 10:00 at +02 is 08:00 UTC.
    assert_eq!(
        col::<TimestampMicrosecondArray>(&sink, 15).value(0),
        1_793_872_800_000_000 - 2 * 3_600_000_000
    );
    assert_eq!(col::<StringArray>(&sink, 16).value(0), "{\"a\": 1}");
    assert_eq!(col::<StringArray>(&sink, 17).value(0), "{\"b\": [1, 2]}");
    assert_eq!(
        col::<StringArray>(&sink, 18).value(0),
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    );
    assert_eq!(col::<BinaryArray>(&sink, 19).value(0), &[0u8, 255]);
    assert_eq!(col::<StringArray>(&sink, 20).value(0), "happy");
    let ia = col::<ListArray>(&sink, 21).value(0);
    let ia = ia.as_any().downcast_ref::<Int32Array>().expect("ints");
    assert_eq!(
        (ia.len(), ia.value(0), ia.is_null(1), ia.value(2)),
        (3, 1, true, 3)
    );
    assert_eq!(col::<StringArray>(&sink, 23).value(0), "1 day");
    // The second row is all NULL, in every type.
    for i in 0..sink.batches[0].num_columns() {
        assert!(sink.batches[0].column(i).is_null(1), "column {i}");
    }
    // Unmapped types are said, naming table and column: numeric without precision (no fixed
    // Arrow decimal holds every value exactly) and interval.
    assert_eq!(
        read.warnings,
        [
            "table t, column anynum: type numeric has no Arrow mapping; it lands as text",
            "table t, column iv: type interval has no Arrow mapping; it lands as text"
        ]
    );
}

#[test]
fn pg_snapshot_spans_tables_and_connections() {
    let mut s = Schema::new("t_pg_snap");
    s.sql(
        "CREATE TABLE a (id bigint PRIMARY KEY);
         CREATE TABLE b (id bigint PRIMARY KEY);
         INSERT INTO a SELECT generate_series(1, 1000);
         INSERT INTO b SELECT generate_series(1, 10);",
    );
    let mut session = s.session(3);
    assert_eq!(session.connections(), 3);
    // Changes after the session opened are not seen by any of its reads.
    s.sql("INSERT INTO a SELECT generate_series(1001, 2000); DELETE FROM b WHERE id > 5;");
    let mut sink = Collect::default();
    let mut r = req("a");
    r.parallel = 3;
    r.split_by = Some("id".into());
    let read = session.read(&r, &mut sink).expect("read a");
    assert_eq!((read.rows, read.ranges), (1000, 3));
    let read = session
        .read(&req("b"), &mut Collect::default())
        .expect("read b");
    assert_eq!(read.rows, 10);
}

#[test]
fn pg_parallel_ranges_read_every_row_once() {
    let mut s = Schema::new("t_pg_par");
    s.sql(
        "CREATE TABLE big (id bigint, v text);
         INSERT INTO big SELECT g, md5(g::text) FROM generate_series(-50, 20000) g;
         INSERT INTO big VALUES (NULL, 'no key');",
    );
    let mut session = s.session(4);
    let mut r = req("big");
    r.parallel = 4;
    r.split_by = Some("id".into());
    let mut sink = Collect::default();
    let read = session.read(&r, &mut sink).expect("read");
    assert_eq!(read.ranges, 4);
    assert_eq!(read.rows, 20_052);
    let mut ids = BTreeSet::new();
    let mut nulls = 0;
    for b in &sink.batches {
        let a = b
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("ids");
        for i in 0..a.len() {
            if a.is_null(i) {
                nulls += 1;
            } else {
                assert!(ids.insert(a.value(i)), "id {} twice", a.value(i));
            }
        }
    }
    assert_eq!((ids.len(), nulls), (20_051, 1));
    // A text column cannot split ranges.
    r.split_by = Some("v".into());
    let err = session
        .read(&r, &mut Collect::default())
        .expect_err("text split");
    assert!(err.to_string().contains("not an integer"), "{err}");
}

#[test]
fn pg_incremental_reads_past_the_watermark() {
    let mut s = Schema::new("t_pg_inc");
    s.sql(
        "CREATE TABLE o (id bigint PRIMARY KEY, status text, updated_at timestamp(6) NOT NULL);
         INSERT INTO o VALUES (1, 'placed', '2026-11-01 10:00:00'), (2, 'placed', '2026-11-01 10:00:00.5');",
    );
    let mut r = req("o");
    r.cursor = Some("updated_at".into());
    let read = s
        .session(1)
        .read(&r, &mut Collect::default())
        .expect("first");
    assert_eq!(read.rows, 2);
    assert_eq!(read.max_cursor.as_deref(), Some("2026-11-01 10:00:00.5"));
    s.sql(
        "UPDATE o SET status = 'delivered', updated_at = '2026-11-01 11:00:00' WHERE id = 1;
         INSERT INTO o VALUES (3, 'placed', '2026-11-01 10:30:00');",
    );
    r.after = read.max_cursor;
    let mut sink = Collect::default();
    let read = s.session(1).read(&r, &mut sink).expect("second");
    assert_eq!(read.rows, 2);
    assert_eq!(read.max_cursor.as_deref(), Some("2026-11-01 11:00:00"));
    r.after = read.max_cursor;
    let read = s
        .session(1)
        .read(&r, &mut Collect::default())
        .expect("third");
    assert_eq!((read.rows, read.max_cursor), (0, None));
    // A missing cursor column is an error naming it.
    r.cursor = Some("changed".into());
    let err = s
        .session(1)
        .read(&r, &mut Collect::default())
        .expect_err("cursor");
    assert!(err.to_string().contains("cursor column `changed`"), "{err}");
}

#[test]
fn pg_errors_name_table_and_hide_the_password() {
    let mut s = Schema::new("t_pg_err");
    s.sql("CREATE TABLE ok (id int); INSERT INTO ok VALUES (1); CREATE TABLE secret (id int);");
    let mut session = s.session(1);
    let err = session
        .read(&req("nope"), &mut Collect::default())
        .expect_err("missing");
    let msg = err.to_string();
    assert!(
        msg.contains("table nope") && msg.contains("no such table"),
        "{msg}"
    );
    // The session (its snapshot transaction) survives the error.
    assert_eq!(
        session
            .read(&req("ok"), &mut Collect::default())
            .expect("ok")
            .rows,
        1
    );

    // Permission denied on one table: a role that can see but not read it.
    let role = unique("pulse_reader");
    s.sql(&format!(
        "CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA \"{n}\" TO {role}; GRANT SELECT ON ok TO {role};",
        n = s.name
    ));
    let url = ConnectionString::resolve(&pg_url().replace("postgres@", &format!("{role}@")))
        .expect("url");
    let mut limited = PgSession::open(&url, &s.name, 1).expect("session");
    let err = limited
        .read(&req("secret"), &mut Collect::default())
        .expect_err("denied");
    assert!(err.to_string().contains("permission denied"), "{err}");
    assert_eq!(
        limited
            .read(&req("ok"), &mut Collect::default())
            .expect("ok")
            .rows,
        1
    );
    drop(limited);
    s.sql(&format!("DROP OWNED BY {role}; DROP ROLE {role};"));

    // Bad credentials and an unreachable server: the password never shows.
    unsafe_env_free_bad_credentials();
}

fn unsafe_env_free_bad_credentials() {
    let url =
        ConnectionString::resolve_with("postgres://no_such_user:${PW}@127.0.0.1:5432/test", |_| {
            Some("hunter2-secret".to_string())
        })
        .expect("url");
    let err = PgSession::open(&url, "public", 1).expect_err("bad user");
    let msg = err.to_string();
    assert!(msg.contains("no_such_user"), "{msg}");
    assert!(!msg.contains("hunter2-secret"), "{msg}");
    assert!(
        msg.contains("postgres://no_such_user:***@127.0.0.1:5432/test"),
        "{msg}"
    );
    let url =
        ConnectionString::resolve("postgres://postgres:topsecret@127.0.0.1:1/test").expect("url");
    let err = PgSession::open(&url, "public", 1).expect_err("unreachable");
    let msg = err.to_string();
    assert!(!msg.contains("topsecret"), "{msg}");
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
}
