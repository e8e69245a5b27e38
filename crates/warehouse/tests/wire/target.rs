//! The PostgreSQL warehouse target against the PostgreSQL at 127.0.0.1:5432 (scripts/services.sh
//! starts it; `PULSE_TEST_POSTGRES` points elsewhere): Arrow batches published and read back.

use arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryViewArray, BooleanArray, Date32Array, Date64Array,
    Decimal128Array, DictionaryArray, DurationMicrosecondArray, FixedSizeBinaryArray, Float32Array,
    Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, LargeBinaryArray,
    LargeStringArray, ListArray, NullArray, RecordBatch, StringArray, StringViewArray, StructArray,
    Time64MicrosecondArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef, TimeUnit};
use pulse_warehouse::target::{LoadReport, PgTarget, TargetError, pg_type};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

fn pg_url() -> String {
    std::env::var("PULSE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// SQL run when the test ends, passing or not (drops what the test created).
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let sql = std::mem::take(&mut self.0);
        // Drop runs inside the test's runtime, which cannot block on itself: a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let c = plain_client().await;
                c.batch_execute(&sql)
                    .await
                    .expect("clean up after the test");
            })
        })
        .join();
    }
}

/// The test's schema (its name quoted for SQL), dropped when the test ends.
struct TestSchema(String, #[allow(dead_code)] Cleanup);

async fn plain_client() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (scripts/services.sh starts it)");
    tokio::spawn(connection);
    client
}

async fn target(prefix: &str) -> (PgTarget, TestSchema) {
    // Capitals and a quote in the schema name: every identifier must be quoted.
    let name = format!("{}_Q\"x", unique(prefix));
    let quoted = name.replace('"', "\"\"");
    let guard = TestSchema(
        quoted.clone(),
        Cleanup(format!("drop schema if exists \"{quoted}\" cascade")),
    );
    let t = PgTarget::connect(&pg_url(), &name).await.expect("connect");
    assert_eq!(t.schema(), name);
    (t, guard)
}

fn stream(
    batches: Vec<RecordBatch>,
) -> impl futures::Stream<Item = Result<RecordBatch, String>> + Send {
    futures::stream::iter(batches.into_iter().map(Ok))
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow::compute::concat_batches(&batches[0].schema(), batches).expect("concat")
}

fn field(name: &str, dt: DataType) -> Field {
    Field::new(name, dt, true)
}

fn decimal(values: &[Option<i128>], precision: u8, scale: i8) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(values.to_vec())
            .with_precision_and_scale(precision, scale)
            .expect("decimal"),
    )
}

fn list_i32(rows: Vec<Option<Vec<Option<i32>>>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(rows))
}

fn list_utf8(rows: Vec<Option<Vec<Option<&str>>>>) -> ArrayRef {
    let field = Arc::new(Field::new_list_field(DataType::Utf8, true));
    let mut offsets = vec![0i32];
    let mut values: Vec<Option<&str>> = Vec::new();
    let mut valid = Vec::new();
    for r in &rows {
        if let Some(items) = r {
            values.extend(items.iter().copied());
        }
        offsets.push(values.len() as i32);
        valid.push(r.is_some());
    }
    Arc::new(
        ListArray::try_new(
            field,
            arrow::buffer::OffsetBuffer::new(offsets.into()),
            Arc::new(StringArray::from(values)),
            Some(valid.into()),
        )
        .expect("list"),
    )
}

const TEXTS: [Option<&str>; 5] = [
    Some("it's \"quoted\" \\ back\\slash"),
    Some("line\nbreak\ttab ünïcödé 日本 🚀"),
    None,
    Some(""),
    Some("\\N"),
];

/// Five rows of every mapped type, nulls included; returns the batch as sent and the arrays
/// expected back from `query` (where PostgreSQL's type reads back as another Arrow type).
fn every_type() -> (RecordBatch, Vec<(String, ArrayRef)>) {
    let mut sent: Vec<(Field, ArrayRef)> = Vec::new();
    let mut expected: Vec<(String, ArrayRef)> = Vec::new();
    let mut both = |name: &str, a: ArrayRef, back: Option<ArrayRef>| {
        sent.push((field(name, a.data_type().clone()), a.clone()));
        expected.push((name.to_string(), back.unwrap_or(a)));
    };
    both("id", Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5])), None);
    both(
        "i8",
        Arc::new(Int8Array::from(vec![
            Some(1),
            Some(-128),
            None,
            Some(127),
            Some(0),
        ])),
        Some(Arc::new(Int16Array::from(vec![
            Some(1),
            Some(-128),
            None,
            Some(127),
            Some(0),
        ]))),
    );
    both(
        "i16",
        Arc::new(Int16Array::from(vec![
            Some(i16::MIN),
            Some(-1),
            None,
            Some(i16::MAX),
            Some(0),
        ])),
        None,
    );
    both(
        "Upper Case",
        Arc::new(Int32Array::from(vec![
            Some(i32::MIN),
            None,
            Some(7),
            Some(i32::MAX),
            Some(0),
        ])),
        None,
    );
    both(
        "i64",
        Arc::new(Int64Array::from(vec![
            Some(i64::MIN),
            Some(i64::MAX),
            None,
            Some(-1),
            Some(0),
        ])),
        None,
    );
    both(
        "u8",
        Arc::new(UInt8Array::from(vec![
            Some(255),
            Some(0),
            None,
            Some(1),
            Some(2),
        ])),
        Some(Arc::new(Int32Array::from(vec![
            Some(255),
            Some(0),
            None,
            Some(1),
            Some(2),
        ]))),
    );
    both(
        "u16",
        Arc::new(UInt16Array::from(vec![
            Some(65535),
            Some(0),
            None,
            Some(1),
            Some(2),
        ])),
        Some(Arc::new(Int32Array::from(vec![
            Some(65535),
            Some(0),
            None,
            Some(1),
            Some(2),
        ]))),
    );
    both(
        "u32",
        Arc::new(UInt32Array::from(vec![
            Some(u32::MAX),
            Some(0),
            None,
            Some(1),
            Some(2),
        ])),
        Some(Arc::new(Int64Array::from(vec![
            Some(4_294_967_295),
            Some(0),
            None,
            Some(1),
            Some(2),
        ]))),
    );
    both(
        "u64",
        Arc::new(UInt64Array::from(vec![
            Some(u64::MAX),
            Some(0),
            None,
            Some(10_000),
            Some(2),
        ])),
        Some(Arc::new(
            Decimal128Array::from(vec![
                Some(u64::MAX as i128),
                Some(0),
                None,
                Some(10_000),
                Some(2),
            ])
            .with_precision_and_scale(38, 0)
            .expect("decimal"),
        )),
    );
    both(
        "f16",
        arrow::compute::cast(
            &Float32Array::from(vec![Some(1.5), Some(-2.0), None, Some(0.0), Some(65504.0)]),
            &DataType::Float16,
        )
        .expect("half floats"),
        Some(Arc::new(Float32Array::from(vec![
            Some(1.5),
            Some(-2.0),
            None,
            Some(0.0),
            Some(65504.0),
        ]))),
    );
    both(
        "f32",
        Arc::new(Float32Array::from(vec![
            Some(1.5),
            Some(f32::MIN_POSITIVE),
            None,
            Some(-3.25e30),
            Some(f32::INFINITY),
        ])),
        None,
    );
    both(
        "f64",
        Arc::new(Float64Array::from(vec![
            Some(0.1),
            Some(-1e300),
            None,
            Some(f64::NEG_INFINITY),
            Some(5e-324),
        ])),
        None,
    );
    both(
        "flag",
        Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            None,
            Some(true),
            Some(false),
        ])),
        None,
    );
    both("text", Arc::new(StringArray::from(TEXTS.to_vec())), None);
    let as_utf8: ArrayRef = Arc::new(StringArray::from(TEXTS.to_vec()));
    both(
        "large_text",
        Arc::new(LargeStringArray::from(TEXTS.to_vec())),
        Some(as_utf8.clone()),
    );
    both(
        "view_text",
        Arc::new(StringViewArray::from(TEXTS.to_vec())),
        Some(as_utf8.clone()),
    );
    both(
        "dict_text",
        Arc::new(
            TEXTS
                .iter()
                .copied()
                .collect::<DictionaryArray<Int32Type>>(),
        ),
        Some(as_utf8),
    );
    // Before 1970 and before 2000 (negative on both epochs), PostgreSQL's epoch, a leap day.
    let days = vec![Some(-1), Some(-36_524), None, Some(10_957), Some(11_016)];
    both("day", Arc::new(Date32Array::from(days.clone())), None);
    both(
        "day64",
        Arc::new(Date64Array::from(
            days.iter()
                .map(|d| d.map(|d| i64::from(d) * 86_400_000))
                .collect::<Vec<_>>(),
        )),
        Some(Arc::new(Date32Array::from(days))),
    );
    let micros = vec![
        Some(-1_000_001),
        Some(-2_208_988_800_000_000),
        None,
        Some(946_684_800_000_000),
        Some(1_793_000_000_123_456),
    ];
    both(
        "ts",
        Arc::new(TimestampMicrosecondArray::from(micros.clone())),
        None,
    );
    both(
        "ts_tz",
        Arc::new(TimestampMicrosecondArray::from(micros.clone()).with_timezone("+02:00")),
        Some(Arc::new(
            TimestampMicrosecondArray::from(micros.clone()).with_timezone("UTC"),
        )),
    );
    both(
        "ts_ns",
        Arc::new(TimestampNanosecondArray::from(
            micros
                .iter()
                .map(|m| m.map(|m| m * 1000))
                .collect::<Vec<_>>(),
        )),
        Some(Arc::new(TimestampMicrosecondArray::from(micros.clone()))),
    );
    both(
        "ts_ms",
        Arc::new(
            TimestampMillisecondArray::from(vec![
                Some(-1),
                Some(0),
                None,
                Some(1),
                Some(1_700_000_000_123),
            ])
            .with_timezone("UTC"),
        ),
        Some(Arc::new(
            TimestampMicrosecondArray::from(vec![
                Some(-1000),
                Some(0),
                None,
                Some(1000),
                Some(1_700_000_000_123_000),
            ])
            .with_timezone("UTC"),
        )),
    );
    both(
        "clock",
        Arc::new(Time64MicrosecondArray::from(vec![
            Some(0),
            Some(86_399_999_999),
            None,
            Some(1),
            Some(43_200_000_000),
        ])),
        None,
    );
    both(
        "took",
        Arc::new(DurationMicrosecondArray::from(vec![
            Some(0),
            Some(-1_500_000),
            None,
            Some(90_061_000_001),
            Some(1),
        ])),
        Some(Arc::new(Int64Array::from(vec![
            Some(0),
            Some(-1_500_000),
            None,
            Some(90_061_000_001),
            Some(1),
        ]))),
    );
    let big = 10i128.pow(37) * 9 + 123_456_789; // 38 digits
    both(
        "dec",
        Arc::new(
            Decimal128Array::from(vec![Some(0), Some(-1), None, Some(big), Some(-big)])
                .with_precision_and_scale(38, 10)
                .expect("decimal"),
        ),
        None,
    );
    both(
        "money",
        decimal(
            &[
                Some(-50),
                Some(1_234_567),
                None,
                Some(0),
                Some(-100_000_000_000),
            ],
            12,
            2,
        ),
        Some(decimal(
            &[
                Some(-50),
                Some(1_234_567),
                None,
                Some(0),
                Some(-100_000_000_000),
            ],
            38,
            2,
        )),
    );
    // numeric(p, s) reads back as Decimal128(38, s).
    both(
        "whole",
        decimal(
            &[Some(-10_000), Some(99_999), None, Some(0), Some(10_001)],
            5,
            0,
        ),
        Some(decimal(
            &[Some(-10_000), Some(99_999), None, Some(0), Some(10_001)],
            38,
            0,
        )),
    );
    let bytes: Vec<Option<&[u8]>> = vec![
        Some(b"\x00\xff\\x"),
        Some(b""),
        None,
        Some(b"abc"),
        Some(b"\n"),
    ];
    both("raw", Arc::new(BinaryArray::from(bytes.clone())), None);
    let as_binary: ArrayRef = Arc::new(BinaryArray::from(bytes.clone()));
    both(
        "large_raw",
        Arc::new(LargeBinaryArray::from(bytes.clone())),
        Some(as_binary.clone()),
    );
    both(
        "view_raw",
        Arc::new(BinaryViewArray::from(bytes)),
        Some(as_binary),
    );
    let fixed: Vec<Option<&[u8]>> = vec![
        Some(b"ab"),
        Some(b"\x00\x01"),
        None,
        Some(b"zz"),
        Some(b"\xff\xff"),
    ];
    both(
        "fixed_raw",
        Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(fixed.clone().into_iter(), 2)
                .expect("fixed"),
        ),
        Some(Arc::new(BinaryArray::from(fixed))),
    );
    let ints = vec![
        Some(vec![Some(1), None, Some(-3)]),
        Some(vec![]),
        None,
        Some(vec![Some(i32::MAX)]),
        Some(vec![None]),
    ];
    both("ints", list_i32(ints), None);
    let words = vec![
        Some(vec![Some("a,b"), Some("{c}"), None]),
        None,
        Some(vec![]),
        Some(vec![Some("\"q\" \\ ü")]),
        Some(vec![Some("NULL")]),
    ];
    both("words", list_utf8(words), None);
    let nested = StructArray::from(vec![(
        Arc::new(Field::new("a", DataType::Int32, true)),
        Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5])) as ArrayRef,
    )]);
    both(
        "nested",
        Arc::new(nested),
        Some(Arc::new(StringArray::from(vec![
            Some("{a: 1}"),
            Some("{a: 2}"),
            Some("{a: 3}"),
            Some("{a: 4}"),
            Some("{a: 5}"),
        ]))),
    );
    both(
        "nothing",
        Arc::new(NullArray::new(5)),
        Some(Arc::new(StringArray::from(vec![None::<&str>; 5]))),
    );
    let schema = Arc::new(Schema::new(
        sent.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>(),
    ));
    let batch =
        RecordBatch::try_new(schema, sent.into_iter().map(|(_, a)| a).collect()).expect("batch");
    (batch, expected)
}

#[tokio::test]
async fn every_type_round_trips_through_copy() {
    let (t, guard) = target("pulse_types").await;
    let (batch, expected) = every_type();
    // Several batches, sliced (offsets not starting at zero).
    let parts = vec![batch.slice(0, 2), batch.slice(2, 1), batch.slice(3, 2)];
    let report = t
        .replace_table("All Types", batch.schema(), stream(parts), "run-1")
        .await
        .expect("replace_table");
    assert_eq!(report.rows, 5);
    assert!(report.bytes > 19, "{report:?}");
    let table = format!("\"{}\".\"All Types\"", guard.0);
    let got = concat(
        &t.query(&format!("select * from {table} order by id"))
            .await
            .expect("query"),
    );
    assert_eq!(got.num_columns(), expected.len());
    for (i, (name, want)) in expected.iter().enumerate() {
        assert_eq!(got.schema().field(i).name(), name);
        assert_eq!(
            got.column(i).data_type(),
            want.data_type(),
            "type of {name}"
        );
        assert_eq!(got.column(i), want, "values of {name}");
    }
    // The table's schema says what query() returns.
    let described = t
        .table_schema("All Types")
        .await
        .expect("table_schema")
        .expect("the table exists");
    for (f, g) in described.fields().iter().zip(got.schema().fields()) {
        assert_eq!(f.name(), g.name());
        assert_eq!(f.data_type(), g.data_type(), "{}", f.name());
    }
    assert!(
        t.table_schema("no such table")
            .await
            .expect("ask")
            .is_none()
    );
    // Columns as created.
    let types = t
        .query(&format!(
            "select column_name::text, data_type::text from information_schema.columns \
             where table_schema = '{}' and table_name = 'All Types' order by ordinal_position",
            guard.0.replace("\"\"", "\"")
        ))
        .await
        .expect("columns");
    let types = concat(&types);
    let names = types
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("text");
    let listed: Vec<&str> = (0..names.len()).map(|i| names.value(i)).collect();
    assert_eq!(
        listed,
        [
            "integer",
            "smallint",
            "smallint",
            "integer",
            "bigint",
            "integer",
            "integer",
            "bigint",
            "numeric",
            "real",
            "real",
            "double precision",
            "boolean",
            "text",
            "text",
            "text",
            "text",
            "date",
            "date",
            "timestamp without time zone",
            "timestamp with time zone",
            "timestamp without time zone",
            "timestamp with time zone",
            "time without time zone",
            "interval",
            "numeric",
            "numeric",
            "numeric",
            "bytea",
            "bytea",
            "bytea",
            "bytea",
            "ARRAY",
            "ARRAY",
            "text",
            "text"
        ]
    );
    drop(guard);
}

#[test]
fn arrow_types_map_to_postgresql_types() {
    let list = |dt| DataType::List(Arc::new(Field::new_list_field(dt, true)));
    for (dt, want) in [
        (DataType::Int8, "smallint"),
        (DataType::UInt64, "numeric(20,0)"),
        (DataType::Float16, "real"),
        (DataType::Utf8View, "text"),
        (
            DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8)),
            "text",
        ),
        (DataType::Date64, "date"),
        (DataType::Timestamp(TimeUnit::Second, None), "timestamp"),
        (
            DataType::Timestamp(TimeUnit::Nanosecond, Some("Europe/Paris".into())),
            "timestamptz",
        ),
        (DataType::Decimal128(12, 2), "numeric(12,2)"),
        (DataType::Decimal128(5, -3), "numeric(8,0)"),
        (DataType::BinaryView, "bytea"),
        (list(DataType::Int64), "bigint[]"),
        (list(DataType::Utf8), "text[]"),
        (list(list(DataType::Int64)), "text"),
        (DataType::Duration(TimeUnit::Millisecond), "interval"),
        (DataType::Struct(Vec::<Field>::new().into()), "text"),
    ] {
        assert_eq!(pg_type(&dt), want, "{dt}");
    }
}

async fn count(c: &tokio_postgres::Client, table: &str) -> Result<i64, tokio_postgres::Error> {
    c.query_one(&format!("select count(*) from {table}"), &[])
        .await
        .map(|r| r.get(0))
}

fn numbers(from: i64, rows: usize) -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("label", DataType::Utf8, false),
    ]));
    let batches = (0..rows)
        .step_by(10_000)
        .map(|start| {
            let n = 10_000.min(rows - start) as i64;
            let ids: Vec<i64> = (0..n).map(|i| from + start as i64 + i).collect();
            let labels = StringArray::from_iter_values(ids.iter().map(|i| format!("row {i}")));
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Int64Array::from(ids)), Arc::new(labels)],
            )
            .expect("batch")
        })
        .collect();
    (schema, batches)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_table_is_swapped_in_whole_under_a_concurrent_reader() {
    let (t, guard) = target("pulse_swap").await;
    let table = format!("\"{}\".\"big\"", guard.0);
    let (schema, first) = numbers(0, 100_000);
    t.replace_table("big", schema.clone(), stream(first), "run-1")
        .await
        .expect("first load");
    let reader = plain_client().await;
    assert_eq!(count(&reader, &table).await.expect("count"), 100_000);

    let done = Arc::new(AtomicBool::new(false));
    let reading = {
        let done = done.clone();
        let table = table.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !done.load(Ordering::SeqCst) {
                seen.push(count(&reader, &table).await.map_err(|e| format!("{e:?}")));
            }
            seen.push(count(&reader, &table).await.map_err(|e| format!("{e:?}")));
            seen
        })
    };
    let (_, second) = numbers(1_000_000, 250_000);
    let report = t
        .replace_table("big", schema.clone(), stream(second), "run-2")
        .await
        .expect("second load");
    done.store(true, Ordering::SeqCst);
    assert_eq!(report.rows, 250_000);
    let seen = reading.await.expect("reader");
    assert!(seen.len() >= 2, "the reader ran during the load");
    for s in &seen {
        match s {
            Ok(n) => assert!(*n == 100_000 || *n == 250_000, "a half-loaded table: {n}"),
            Err(e) => panic!("the reader failed during the swap: {e}"),
        }
    }
    assert_eq!(seen.last(), Some(&Ok(250_000)));
    assert!(
        seen.contains(&Ok(100_000)),
        "the reader read the old table while the new one loaded"
    );
    // The old rows are gone and no load table is left over.
    let c = plain_client().await;
    let old: i64 = c
        .query_one(
            &format!("select count(*) from {table} where id < 1000000"),
            &[],
        )
        .await
        .expect("old rows")
        .get(0);
    assert_eq!(old, 0);
    let tables: i64 = c
        .query_one(
            "select count(*) from pg_tables where schemaname = $1",
            &[&guard.0.replace("\"\"", "\"")],
        )
        .await
        .expect("tables")
        .get(0);
    assert_eq!(tables, 2, "big and _pulse_builds only");
    // A leftover load table from a crash is dropped by the next load.
    c.batch_execute(&format!(
        "create table \"{}\".\"big__pulse_load\" (junk int)",
        guard.0
    ))
    .await
    .expect("leftover");
    let (_, third) = numbers(0, 3);
    t.replace_table("big", schema.clone(), stream(third), "run-3")
        .await
        .expect("third load");
    assert_eq!(count(&c, &table).await.expect("count"), 3);
    let build = c
        .query_one(
            &format!(
                "select part, rows, run_id from \"{}\"._pulse_builds where model = 'big'",
                guard.0
            ),
            &[],
        )
        .await
        .expect("bookkeeping");
    assert_eq!(
        (
            build.get::<_, String>(0),
            build.get::<_, i64>(1),
            build.get::<_, String>(2)
        ),
        (String::new(), 3, "run-3".to_string())
    );
    // A failing batch stream leaves the table as it was and no load table behind.
    let failing = futures::stream::iter(vec![
        Ok(numbers(0, 10).1.remove(0)),
        Err("the engine failed".to_string()),
    ]);
    let err = t
        .replace_table("big", schema, failing, "run-4")
        .await
        .expect_err("a failed stream");
    assert!(err.to_string().contains("the engine failed"), "{err}");
    assert_eq!(count(&c, &table).await.expect("count"), 3);
    drop(guard);
}

fn orders_day(day: &str, rows: &[(i64, &str)], with_tip: bool) -> (SchemaRef, Vec<RecordBatch>) {
    let mut fields = vec![
        Field::new("order_id", DataType::Int64, false),
        Field::new(
            "Ordered At",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ];
    if with_tip {
        fields.push(Field::new("tip", DataType::Float64, true));
    }
    let schema = Arc::new(Schema::new(fields));
    let at = |time: &str| {
        chrono::NaiveDateTime::parse_from_str(&format!("{day} {time}"), "%Y-%m-%d %H:%M:%S")
            .expect("time")
            .and_utc()
            .timestamp_micros()
    };
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| at(r.1)))
                .with_timezone("UTC"),
        ),
    ];
    if with_tip {
        columns.push(Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.0 as f64 / 10.0),
        )));
    }
    let batch = RecordBatch::try_new(schema.clone(), columns).expect("batch");
    (schema, vec![batch])
}

fn date(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

#[tokio::test]
async fn merge_partition_replaces_one_day_and_keeps_the_others() {
    let (t, guard) = target("pulse_merge").await;
    let table = format!("\"{}\".\"fct_orders\"", guard.0);
    let c = plain_client().await;
    // The table does not exist yet: the first partition creates it.
    let (schema, batches) = orders_day(
        "2026-11-01",
        &[(1, "00:00:00"), (2, "12:00:00"), (3, "23:59:59")],
        false,
    );
    let r = t
        .merge_partition(
            "fct_orders",
            schema,
            "Ordered At",
            date("2026-11-01"),
            stream(batches),
            "run-1",
        )
        .await
        .expect("first day");
    assert_eq!(r.rows, 3);
    let (schema, batches) = orders_day("2026-11-02", &[(4, "00:30:00"), (5, "08:00:00")], false);
    t.merge_partition(
        "fct_orders",
        schema,
        "Ordered At",
        date("2026-11-02"),
        stream(batches),
        "run-1",
    )
    .await
    .expect("second day");
    assert_eq!(count(&c, &table).await.expect("count"), 5);

    // The first day again, with one row and a new column: the day is replaced, the other kept.
    let (schema, batches) = orders_day("2026-11-01", &[(10, "06:00:00")], true);
    t.merge_partition(
        "fct_orders",
        schema,
        "Ordered At",
        date("2026-11-01"),
        stream(batches),
        "run-2",
    )
    .await
    .expect("first day again");
    let got = concat(
        &t.query(&format!(
            "select order_id, tip, cast(\"Ordered At\" as date) as day from {table} order by order_id"
        ))
        .await
        .expect("query"),
    );
    assert_eq!(
        got.column(0).as_ref(),
        &Int64Array::from(vec![4, 5, 10]) as &dyn Array
    );
    assert_eq!(
        got.column(1).as_ref(),
        &Float64Array::from(vec![None, None, Some(1.0)]) as &dyn Array
    );
    // The bookkeeping has one row per partition, with its rows and run.
    let builds = concat(
        &t.query(&format!(
            "select part, rows, run_id from \"{}\"._pulse_builds where model = 'fct_orders' order by part",
            guard.0
        ))
        .await
        .expect("builds"),
    );
    assert_eq!(
        builds.column(0).as_ref(),
        &StringArray::from(vec!["2026-11-01", "2026-11-02"]) as &dyn Array
    );
    assert_eq!(
        builds.column(1).as_ref(),
        &Int64Array::from(vec![1, 2]) as &dyn Array
    );
    assert_eq!(
        builds.column(2).as_ref(),
        &StringArray::from(vec!["run-2", "run-1"]) as &dyn Array
    );

    // A column whose type changed is refused, and nothing of the day is lost.
    let schema = Arc::new(Schema::new(vec![
        Field::new("order_id", DataType::Utf8, false),
        Field::new("Ordered At", DataType::Date32, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["x"])),
            Arc::new(Date32Array::from(vec![20_393])),
        ],
    )
    .expect("batch");
    let err = t
        .merge_partition(
            "fct_orders",
            schema,
            "Ordered At",
            date("2026-11-02"),
            stream(vec![batch]),
            "run-3",
        )
        .await
        .expect_err("a changed type");
    assert!(err.to_string().contains("order_id"), "{err}");
    assert_eq!(count(&c, &table).await.expect("count"), 3);

    // A date column partitions the same way.
    let schema = Arc::new(Schema::new(vec![
        Field::new("day", DataType::Date32, false),
        Field::new("n", DataType::Int32, false),
    ]));
    for (day, n) in [(20_393, 1), (20_394, 2), (20_393, 3)] {
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Date32Array::from(vec![day, day])),
                Arc::new(Int32Array::from(vec![n, n])),
            ],
        )
        .expect("batch");
        let d = chrono::NaiveDate::from_num_days_from_ce_opt(day + 719_163).expect("date");
        t.merge_partition(
            "daily",
            schema.clone(),
            "day",
            d,
            stream(vec![batch]),
            "run",
        )
        .await
        .expect("daily");
    }
    let daily = concat(
        &t.query(&format!("select n from \"{}\".daily order by n", guard.0))
            .await
            .expect("daily"),
    );
    assert_eq!(
        daily.column(0).as_ref(),
        &Int32Array::from(vec![2, 2, 3, 3]) as &dyn Array
    );
    drop(guard);
}

#[tokio::test]
async fn version_changes_with_each_publish() {
    let (t, guard) = target("pulse_version").await;
    let mut versions = vec![t.version().await.expect("version")];
    let (schema, batches) = numbers(0, 10);
    for run in ["a", "b"] {
        t.replace_table("t", schema.clone(), stream(batches.clone()), run)
            .await
            .expect("load");
        versions.push(t.version().await.expect("version"));
    }
    let (schema, batches) = orders_day("2026-11-01", &[(1, "10:00:00")], false);
    t.merge_partition(
        "p",
        schema.clone(),
        "Ordered At",
        date("2026-11-01"),
        stream(batches.clone()),
        "c",
    )
    .await
    .expect("merge");
    versions.push(t.version().await.expect("version"));
    t.merge_partition(
        "p",
        schema,
        "Ordered At",
        date("2026-11-01"),
        stream(batches),
        "d",
    )
    .await
    .expect("merge again");
    versions.push(t.version().await.expect("version"));
    for (i, v) in versions.iter().enumerate() {
        for w in &versions[i + 1..] {
            assert_ne!(v, w, "{versions:?}");
        }
    }
    assert_eq!(
        t.version().await.expect("version"),
        versions[versions.len() - 1]
    );
    drop(guard);
}

#[tokio::test]
async fn check_names_what_is_unknown() {
    let (t, guard) = target("pulse_check").await;
    let (schema, batches) = numbers(0, 3);
    t.replace_table("t", schema, stream(batches), "r")
        .await
        .expect("load");
    let table = format!("\"{}\".t", guard.0);
    t.check(&format!("select id, label from {table}"))
        .await
        .expect("a valid query");
    let err = t
        .check(&format!("select id, no_such_column from {table}"))
        .await
        .expect_err("unknown column");
    assert_eq!(err.code(), Some("42703"), "{err}");
    assert!(err.to_string().contains("no_such_column"), "{err}");
    let err = t
        .check("select * from no_such_table_here")
        .await
        .expect_err("unknown table");
    assert_eq!(err.code(), Some("42P01"), "{err}");
    assert!(err.to_string().contains("no_such_table_here"), "{err}");
    // Checking runs nothing.
    t.check(&format!("delete from {table}"))
        .await
        .expect("plans");
    assert_eq!(
        t.query(&format!("select * from {table}"))
            .await
            .expect("rows")[0]
            .num_rows(),
        3
    );
    drop(guard);
}

#[tokio::test]
async fn query_returns_the_types_of_expressions() {
    let (t, guard) = target("pulse_query").await;
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("amount", DataType::Decimal128(12, 2), false),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Float64Array::from(vec![1.0, 2.0, 4.0, 10.0])),
            Arc::new(
                Decimal128Array::from(vec![150, 250, -100, 0])
                    .with_precision_and_scale(12, 2)
                    .expect("decimal"),
            ),
            Arc::new(TimestampMicrosecondArray::from(vec![
                1_793_000_000_000_000,
                1_793_000_100_000_000,
                1_793_100_000_000_000,
                1_793_100_000_000_001,
            ])),
        ],
    )
    .expect("batch");
    t.replace_table("facts", schema, stream(vec![batch]), "r")
        .await
        .expect("load");
    let table = format!("\"{}\".facts", guard.0);
    let got = concat(
        &t.query(&format!(
            "select count(*) as n, avg(x) as mean, \
                    percentile_cont(0.5) within group (order by x) as median, \
                    sum(amount) as total, max(amount)::numeric(12,2) as top, \
                    count(*)::int4 as n4, count(*)::int2 as n2, \
                    date_trunc('day', at) as day \
               from {table} group by date_trunc('day', at) order by day -- trailing comment"
        ))
        .await
        .expect("query"),
    );
    let types: Vec<DataType> = got
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        [
            DataType::Int64,
            DataType::Float64,
            DataType::Float64,
            DataType::Float64,
            DataType::Decimal128(38, 2),
            DataType::Int32,
            DataType::Int16,
            DataType::Timestamp(TimeUnit::Microsecond, None),
        ]
    );
    assert_eq!(got.num_rows(), 2);
    assert_eq!(
        got.column(0).as_ref(),
        &Int64Array::from(vec![2, 2]) as &dyn Array
    );
    assert_eq!(
        got.column(1).as_ref(),
        &Float64Array::from(vec![1.5, 7.0]) as &dyn Array
    );
    assert_eq!(
        got.column(2).as_ref(),
        &Float64Array::from(vec![1.5, 7.0]) as &dyn Array
    );
    assert_eq!(
        got.column(3).as_ref(),
        &Float64Array::from(vec![4.0, -1.0]) as &dyn Array
    );

    // Types without an Arrow reading come back as text; semicolons are tolerated.
    let got = concat(
        &t.query(
            "select '10.1.2.3'::inet as ip, array['1.1.1.1'::inet, null] as ips, 'x'::\"char\" as ch, \
                    interval '1 day 2 hours' as span, interval '1 month' as month, \
                    '{\"a\": [1, 2]}'::jsonb as doc, '{\"b\":1}'::json as raw_doc, \
                    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid as id, 42::oid as o, \
                    'abc'::varchar(5) as v, 'ab'::char(4) as c4, 1.25::numeric(5,2) as d, \
                    array[1.5::numeric(4,1), null] as ds, 'infinity'::date as forever, \
                    null as nothing ;  ",
        )
        .await
        .expect("query of unknown types"),
    );
    let text = |i: usize| -> Vec<Option<String>> {
        let a = got.column(i);
        let s = a
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("text column");
        (0..s.len())
            .map(|r| s.is_valid(r).then(|| s.value(r).to_string()))
            .collect()
    };
    // inet's text form carries the netmask.
    assert_eq!(text(0), [Some("10.1.2.3/32".to_string())]);
    let ips = got
        .column(1)
        .as_any()
        .downcast_ref::<ListArray>()
        .expect("list");
    assert_eq!(
        ips.value(0).as_ref(),
        &StringArray::from(vec![Some("1.1.1.1/32"), None]) as &dyn Array
    );
    assert_eq!(text(2), [Some("x".to_string())]);
    assert_eq!(
        got.column(3).as_ref(),
        &Int64Array::from(vec![26 * 3_600_000_000]) as &dyn Array
    );
    assert_eq!(
        got.column(4).as_ref(),
        &Int64Array::from(vec![30 * 86_400_000_000]) as &dyn Array
    );
    assert_eq!(text(5), [Some("{\"a\": [1, 2]}".to_string())]);
    assert_eq!(text(6), [Some("{\"b\":1}".to_string())]);
    assert_eq!(
        text(7),
        [Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".to_string())]
    );
    assert_eq!(text(8), [Some("42".to_string())]);
    assert_eq!(text(9), [Some("abc".to_string())]);
    assert_eq!(text(10), [Some("ab  ".to_string())]);
    assert_eq!(
        got.column(11).as_ref(),
        &Decimal128Array::from(vec![125])
            .with_precision_and_scale(38, 2)
            .expect("decimal") as &dyn Array
    );
    assert!(
        matches!(got.column(12).data_type(), DataType::List(_)),
        "{}",
        got.column(12).data_type()
    );
    assert_eq!(got.column(13).data_type(), &DataType::Date32);
    assert!(got.column(13).is_null(0));
    assert_eq!(text(14), [None]);

    // An empty result still has its schema.
    let empty = t
        .query(&format!("select x from {table} where false"))
        .await
        .expect("empty");
    assert_eq!(empty.len(), 1);
    assert_eq!(empty[0].num_rows(), 0);
    assert_eq!(empty[0].schema().field(0).data_type(), &DataType::Float64);
    let err = t.query("select nope").await.expect_err("bad sql");
    assert_eq!(err.code(), Some("42703"), "{err}");
    drop(guard);
}

#[tokio::test]
async fn a_read_only_role_connects_to_a_published_schema() {
    let (t, guard) = target("pulse_ro").await;
    let (schema, batches) = numbers(0, 3);
    t.replace_table("t", schema, stream(batches), "r")
        .await
        .expect("load");
    let role = unique("pulse_reader");
    let admin = plain_client().await;
    admin
        .batch_execute(&format!(
            "create role \"{role}\" login; \
             grant usage on schema \"{s}\" to \"{role}\"; \
             grant select on all tables in schema \"{s}\" to \"{role}\"",
            s = guard.0
        ))
        .await
        .expect("create a read-only role");
    let _role = Cleanup(format!(
        "drop owned by \"{role}\"; drop role if exists \"{role}\""
    ));
    let url = pg_url().replacen("postgres@", &format!("{role}@"), 1);
    assert_ne!(url, pg_url(), "the test URL names the user postgres");
    let reader = PgTarget::connect(&url, t.schema())
        .await
        .expect("a role without CREATE connects to an existing schema");
    let n = reader
        .query(&format!("select count(*) as n from \"{}\".t", guard.0))
        .await
        .expect("query");
    assert_eq!(
        n[0].column(0).as_ref(),
        &Int64Array::from(vec![3]) as &dyn Array
    );
    assert_eq!(
        reader.version().await.expect("version"),
        t.version().await.expect("version")
    );
    // Without CREATE it cannot make a new schema, and says so.
    let err = PgTarget::connect(&url, &unique("pulse_denied"))
        .await
        .err()
        .expect("no CREATE on the database");
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[tokio::test]
async fn errors_never_hold_the_password() {
    for url in [
        "postgres://postgres:secret@127.0.0.1:1/test",
        "postgres://postgres:secret@127.0.0.1:1/test?connect_timeout=2",
        "host=127.0.0.1 port=1 user=postgres password=secret dbname=test",
        "postgres://postgres:secret@127.0.0.1:notaport/test",
    ] {
        let err = PgTarget::connect(url, "anything")
            .await
            .err()
            .expect("nothing listens on port 1");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(matches!(err, TargetError::Connect { .. }), "{shown}");
    }
    let err = PgTarget::connect("postgres://postgres:secret@127.0.0.1:1/test", "anything")
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    // Names PostgreSQL would truncate are refused before anything is created.
    let (t, guard) = target("pulse_names").await;
    let (schema, batches) = numbers(0, 1);
    let err = t
        .replace_table(&"x".repeat(60), schema, stream(batches), "r")
        .await
        .expect_err("too long");
    assert!(matches!(err, TargetError::Invalid(_)), "{err}");
    drop(guard);
}

/// The futures are `Send`: callers spawn them on the multi-threaded runtime.
#[allow(dead_code)]
fn the_futures_are_send(t: &PgTarget, schema: SchemaRef) {
    fn send<T: Send>(_: T) {}
    send(t.replace_table("t", schema.clone(), stream(vec![]), "r"));
    send(t.merge_partition("t", schema, "d", date("2026-01-01"), stream(vec![]), "r"));
    send(t.query("select 1"));
    send(t.check("select 1"));
    send(t.version());
    send(t.table_schema("t"));
    send(PgTarget::connect("", ""));
}

#[tokio::test]
async fn bench_load() {
    let rows = std::env::var("PULSE_TARGET_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let report: LoadReport = pulse_warehouse::target::bench_load(&pg_url(), rows)
        .await
        .expect("bench");
    assert_eq!(report.rows, rows);
    println!(
        "target bench: {} rows, {:.1} MB of COPY in {:.3} s = {:.0} rows/s, {:.1} MB/s",
        report.rows,
        report.bytes as f64 / 1e6,
        report.seconds,
        report.rows as f64 / report.seconds.max(1e-9),
        report.bytes as f64 / 1e6 / report.seconds.max(1e-9)
    );
}
