use crate::{my_url, unique};
use arrow::array::{
    Array, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    Int8Array, Int16Array, Int64Array, StringArray, Time64MicrosecondArray,
    TimestampMicrosecondArray, UInt8Array, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, TimeUnit};
use mysql::prelude::Queryable;
use pulse_ingest::Collect;
use pulse_ingest::mysql::MySession;
use pulse_ingest::server::ReadRequest;
use pulse_project::ConnectionString;
use std::collections::BTreeSet;

/// A database of the test's own, dropped at the end.
struct Db {
    name: String,
    admin: mysql::Conn,
}

impl Db {
    fn new(tag: &str) -> Db {
        let opts = mysql::Opts::from_url(&my_url()).expect("url");
        let mut admin = mysql::Conn::new(mysql::OptsBuilder::from_opts(opts).prefer_socket(false))
            .unwrap_or_else(|e| {
                panic!(
                    "MariaDB/MySQL at {} is not reachable ({e}): run `bash scripts/services.sh`",
                    my_url()
                )
            });
        let name = unique(tag);
        admin
            .query_drop(format!("CREATE DATABASE `{name}`"))
            .expect("create database");
        Db { name, admin }
    }

    fn sql(&mut self, sql: &str) {
        self.admin
            .query_drop(format!("USE `{}`", self.name))
            .expect("use");
        for stmt in sql.split(";\n") {
            if !stmt.trim().is_empty() {
                self.admin
                    .query_drop(stmt)
                    .unwrap_or_else(|e| panic!("{stmt}: {e}"));
            }
        }
    }

    fn session(&self, connections: usize) -> MySession {
        let url = ConnectionString::resolve(&my_url()).expect("url");
        MySession::open(&url, Some(&self.name), connections).expect("session")
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = self
            .admin
            .query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.name));
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
fn my_types_map_to_arrow() {
    let mut db = Db::new("my_types");
    db.sql(
        "CREATE TABLE t (
           ti tinyint, tu tinyint unsigned, flag tinyint(1), si smallint, iu int unsigned,
           bi bigint, bu bigint unsigned, de decimal(10,3), fl float, do double,
           vc varchar(20), tx text, en enum('small','large'), se set('a','b'), js json,
           d date, tm time(6), dt datetime(6), ts timestamp(6) NULL, bl blob, vb varbinary(8),
           yr year, bt bit(3)
         );
         INSERT INTO t VALUES (-5, 250, 1, -300, 4000000000, -9000000000, 18446744073709551615,
           -1234.567, 1.5, 2.25, 'grüß', 'long text', 'large', 'a,b', '{\"k\": [1]}',
           '2026-11-05', '13:45:01.500000', '2026-11-05 10:00:00.123456', '2026-11-05 10:00:00.5',
           x'00ff', x'0102', 2026, b'101');
         INSERT INTO t () VALUES ()",
    );
    let mut sink = Collect::default();
    let read = db.session(1).read(&req("t"), &mut sink).expect("read");
    assert_eq!(read.rows, 2);
    let types: Vec<DataType> = read
        .schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        vec![
            DataType::Int8,
            DataType::UInt8,
            DataType::Boolean,
            DataType::Int16,
            DataType::UInt32,
            DataType::Int64,
            DataType::UInt64,
            DataType::Decimal128(10, 3),
            DataType::Float32,
            DataType::Float64,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Date32,
            DataType::Time64(TimeUnit::Microsecond),
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            DataType::Binary,
            DataType::Binary,
            DataType::Int16,
            DataType::Utf8,
        ]
    );
    assert_eq!(col::<Int8Array>(&sink, 0).value(0), -5);
    assert_eq!(col::<UInt8Array>(&sink, 1).value(0), 250);
    assert!(col::<BooleanArray>(&sink, 2).value(0));
    assert_eq!(col::<Int16Array>(&sink, 3).value(0), -300);
    assert_eq!(col::<UInt32Array>(&sink, 4).value(0), 4_000_000_000);
    assert_eq!(col::<Int64Array>(&sink, 5).value(0), -9_000_000_000);
    assert_eq!(col::<UInt64Array>(&sink, 6).value(0), u64::MAX);
    assert_eq!(col::<Decimal128Array>(&sink, 7).value(0), -1_234_567);
    assert_eq!(col::<Float32Array>(&sink, 8).value(0), 1.5);
    assert_eq!(col::<Float64Array>(&sink, 9).value(0), 2.25);
    assert_eq!(col::<StringArray>(&sink, 10).value(0), "grüß");
    assert_eq!(col::<StringArray>(&sink, 12).value(0), "large");
    assert_eq!(col::<StringArray>(&sink, 13).value(0), "a,b");
    assert_eq!(col::<StringArray>(&sink, 14).value(0), "{\"k\": [1]}");
    assert_eq!(col::<Date32Array>(&sink, 15).value(0), 20_762);
    assert_eq!(
        col::<Time64MicrosecondArray>(&sink, 16).value(0),
        (13 * 3600 + 45 * 60 + 1) * 1_000_000 + 500_000
    );
    assert_eq!(
        col::<TimestampMicrosecondArray>(&sink, 17).value(0),
        1_793_872_800_123_456
    );
    // The session runs in UTC, so TIMESTAMP values come back as written in UTC.
    assert_eq!(
        col::<TimestampMicrosecondArray>(&sink, 18).value(0),
        1_793_872_800_500_000
    );
    assert_eq!(col::<BinaryArray>(&sink, 19).value(0), &[0u8, 255]);
    assert_eq!(col::<BinaryArray>(&sink, 20).value(0), &[1u8, 2]);
    assert_eq!(col::<Int16Array>(&sink, 21).value(0), 2026);
    for i in 0..sink.batches[0].num_columns() {
        assert!(sink.batches[0].column(i).is_null(1), "column {i}");
    }
    assert_eq!(read.warnings.len(), 1, "{:?}", read.warnings);
    assert!(
        read.warnings[0].contains("table t, column bt") && read.warnings[0].contains("bit(3)"),
        "{:?}",
        read.warnings
    );
}

#[test]
fn my_snapshot_and_parallel_ranges() {
    let mut db = Db::new("my_par");
    db.sql(
        "CREATE TABLE big (id bigint PRIMARY KEY, v varchar(40));
         CREATE TABLE small (id int PRIMARY KEY)",
    );
    let values: Vec<String> = (1..=5000).map(|i| format!("({i}, 'v{i}')")).collect();
    db.sql(&format!("INSERT INTO big VALUES {}", values.join(",")));
    db.sql("INSERT INTO small VALUES (1), (2), (3)");
    let mut session = db.session(3);
    assert_eq!(session.connections(), 3, "{:?}", session.warnings);
    // Written after the snapshot: invisible to every connection of the session.
    db.sql("INSERT INTO big VALUES (5001, 'late');\nDELETE FROM small WHERE id = 3");
    let mut r = req("big");
    r.parallel = 3;
    r.split_by = Some("id".into());
    let mut sink = Collect::default();
    let read = session.read(&r, &mut sink).expect("read");
    assert_eq!((read.rows, read.ranges), (5000, 3));
    let mut ids = BTreeSet::new();
    for b in &sink.batches {
        let a = b
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("ids");
        for i in 0..a.len() {
            assert!(ids.insert(a.value(i)));
        }
    }
    assert_eq!(ids.len(), 5000);
    let read = session
        .read(&req("small"), &mut Collect::default())
        .expect("small");
    assert_eq!(read.rows, 3);
}

#[test]
fn my_incremental_reads_past_the_watermark() {
    let mut db = Db::new("my_inc");
    db.sql(
        "CREATE TABLE d (id bigint PRIMARY KEY, status varchar(20), updated_at datetime(6) NOT NULL);
         INSERT INTO d VALUES (1, 'accepted', '2026-11-01 10:00:00'), (2, 'accepted', '2026-11-01 10:00:00.5')",
    );
    let mut r = req("d");
    r.cursor = Some("updated_at".into());
    let read = db
        .session(1)
        .read(&r, &mut Collect::default())
        .expect("first");
    assert_eq!(read.rows, 2);
    assert_eq!(
        read.max_cursor.as_deref(),
        Some("2026-11-01 10:00:00.500000")
    );
    db.sql("UPDATE d SET status = 'delivered', updated_at = '2026-11-01 11:00:00' WHERE id = 1");
    r.after = read.max_cursor;
    let read = db
        .session(1)
        .read(&r, &mut Collect::default())
        .expect("second");
    assert_eq!(read.rows, 1);
    r.after = read.max_cursor;
    let read = db
        .session(1)
        .read(&r, &mut Collect::default())
        .expect("third");
    assert_eq!(read.rows, 0);
}

#[test]
fn my_errors_name_table_and_hide_the_password() {
    let mut db = Db::new("my_err");
    db.sql("CREATE TABLE ok (id int); INSERT INTO ok VALUES (1)");
    let mut session = db.session(1);
    let err = session
        .read(&req("nope"), &mut Collect::default())
        .expect_err("missing");
    let msg = err.to_string();
    assert!(
        msg.contains("table nope") && msg.contains("no such table"),
        "{msg}"
    );
    assert_eq!(
        session
            .read(&req("ok"), &mut Collect::default())
            .expect("ok")
            .rows,
        1
    );

    let url = ConnectionString::resolve_with("mysql://root:${PW}@127.0.0.1:3306/test", |_| {
        Some("wrong-secret".to_string())
    })
    .expect("url");
    let err = MySession::open(&url, None, 1).expect_err("bad password");
    let msg = err.to_string();
    assert!(msg.contains("Access denied"), "{msg}");
    assert!(!msg.contains("wrong-secret"), "{msg}");
    assert!(
        msg.contains("mysql://root:***@127.0.0.1:3306/test"),
        "{msg}"
    );
    let url = ConnectionString::resolve("mysql://root:topsecret@127.0.0.1:1/test").expect("url");
    let err = MySession::open(&url, None, 1).expect_err("unreachable");
    let msg = err.to_string();
    assert!(!msg.contains("topsecret"), "{msg}");
}
