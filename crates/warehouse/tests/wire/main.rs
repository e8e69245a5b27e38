//! The PostgreSQL endpoint against real clients: psql, Python's psycopg, JDBC (pgjdbc) and
//! tokio-postgres, over a small warehouse built here with the engine.

mod clients;
mod server;
mod target;

use server::{Server, server};
use std::process::Command;

/// The client programs are installed by scripts/test.sh; a missing one fails the test.
pub fn require(program: &str, check: &[&str], what: &str) {
    let found = Command::new(program)
        .args(check)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{what} is needed by this test (`{program} {}` failed): scripts/test.sh installs it",
        check.join(" ")
    );
}

pub fn connect_string(s: &Server, password: Option<&str>) -> String {
    let mut c = format!(
        "host={} port={} user=analyst dbname=pulse",
        s.addr.ip(),
        s.addr.port()
    );
    if let Some(p) = password {
        c.push_str(&format!(" password='{p}'"));
    }
    c
}

pub async fn client(s: &Server) -> tokio_postgres::Client {
    client_with(s, None).await.expect("connect")
}

pub async fn client_with(
    s: &Server,
    password: Option<&str>,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) =
        tokio_postgres::connect(&connect_string(s, password), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

#[test]
fn config_shape_and_the_loopback_rule() {
    use pulse_warehouse::{WireConfig, WireSettings};
    let config: WireConfig = toml::from_str(
        "enabled = true\nlisten = \"0.0.0.0:6543\"\npassword_env = \"PULSE_WIRE_PASSWORD\"\n",
    )
    .expect("parses");
    assert_eq!(config.listen, "0.0.0.0:6543");
    // The password comes from the environment; beyond loopback it is required.
    let settings = config
        .settings(|v| (v == "PULSE_WIRE_PASSWORD").then(|| "s3cret".to_string()))
        .expect("settings");
    assert_eq!(settings.password.as_deref(), Some("s3cret"));
    let unset = config.settings(|_| None).expect_err("unset variable");
    assert!(unset.to_string().contains("PULSE_WIRE_PASSWORD"), "{unset}");

    let open = WireConfig {
        listen: "0.0.0.0:6543".into(),
        password_env: None,
        ..Default::default()
    };
    let refused = open.settings(|_| None).expect_err("open beyond loopback");
    assert!(
        refused.to_string().contains("needs a password"),
        "{refused}"
    );
    assert!(WireSettings::new("[::]:5433".parse().expect("addr"), Some(String::new())).is_err());
    assert!(WireSettings::new("[::1]:5433".parse().expect("addr"), None).is_ok());

    let default: WireConfig = toml::from_str("").expect("empty section");
    assert_eq!(default, WireConfig::default());
    assert_eq!(default.listen, "127.0.0.1:5433");
    let unknown = toml::from_str::<WireConfig>("port = 5433\n").expect_err("unknown field");
    assert!(unknown.to_string().contains("unknown field"), "{unknown}");
    let bad = WireConfig {
        listen: "localhost".into(),
        ..Default::default()
    };
    assert!(bad.settings(|_| None).is_err());
}

#[tokio::test]
async fn binding_beyond_loopback_without_a_password_is_refused() {
    let settings = pulse_warehouse::WireSettings {
        listen: "0.0.0.0:0".parse().expect("addr"),
        password: None,
    };
    let err = pulse_warehouse::WireServer::bind(&settings)
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(err, pulse_warehouse::WireError::Config(_)),
        "{err}"
    );
}

#[tokio::test]
async fn a_query_over_the_wire_returns_what_the_engine_returns() {
    use arrow::array::{
        Array, AsArray, BinaryArray, BooleanArray, Float32Array, Float64Array, Int16Array,
        Int32Array, Int64Array,
    };
    use arrow::datatypes::{Date32Type, TimestampMicrosecondType};
    let s = server();
    let sql = "select i2, i4, i8, f4, f8, flag, label, day, at_local, at_utc, raw \
               from typed order by i4";
    let engine = s.engines.engine().await.expect("engine");
    let (_, batches) = engine.query(sql).await.expect("engine query");
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat");
    let c = client(s).await;
    let rows = c.query(sql, &[]).await.expect("wire query");
    assert_eq!(rows.len(), batch.num_rows());
    assert!(rows.len() >= 3);
    for (i, row) in rows.iter().enumerate() {
        let col = |n: usize| batch.column(n).clone();
        let opt = |a: &dyn Array| !a.is_null(i);
        let i2 = col(0);
        let i2 = i2.as_any().downcast_ref::<Int16Array>().expect("i2");
        assert_eq!(row.get::<_, Option<i16>>(0), opt(i2).then(|| i2.value(i)));
        let i4 = col(1);
        let i4 = i4.as_any().downcast_ref::<Int32Array>().expect("i4");
        assert_eq!(row.get::<_, Option<i32>>(1), opt(i4).then(|| i4.value(i)));
        let i8 = col(2);
        let i8 = i8.as_any().downcast_ref::<Int64Array>().expect("i8");
        assert_eq!(row.get::<_, Option<i64>>(2), opt(i8).then(|| i8.value(i)));
        let f4 = col(3);
        let f4 = f4.as_any().downcast_ref::<Float32Array>().expect("f4");
        assert_eq!(row.get::<_, Option<f32>>(3), opt(f4).then(|| f4.value(i)));
        let f8 = col(4);
        let f8 = f8.as_any().downcast_ref::<Float64Array>().expect("f8");
        assert_eq!(row.get::<_, Option<f64>>(4), opt(f8).then(|| f8.value(i)));
        let flag = col(5);
        let flag = flag.as_any().downcast_ref::<BooleanArray>().expect("flag");
        assert_eq!(
            row.get::<_, Option<bool>>(5),
            opt(flag).then(|| flag.value(i))
        );
        let label = col(6);
        let label = label
            .as_string_view_opt()
            .map(|a| a.value(i).to_string())
            .or_else(|| label.as_string_opt::<i32>().map(|a| a.value(i).to_string()));
        let wire_label: Option<String> = row.get(6);
        if wire_label.is_some() {
            assert_eq!(wire_label, label);
        }
        let day = col(7);
        let day = day.as_primitive::<Date32Type>();
        assert_eq!(
            row.get::<_, Option<chrono::NaiveDate>>(7),
            opt(day).then(|| day.value_as_date(i).expect("date"))
        );
        let at = col(8);
        let at = at.as_primitive::<TimestampMicrosecondType>();
        assert_eq!(
            row.get::<_, Option<chrono::NaiveDateTime>>(8),
            opt(at).then(|| at.value_as_datetime(i).expect("ts"))
        );
        let utc = col(9);
        let utc = utc.as_primitive::<TimestampMicrosecondType>();
        assert_eq!(
            row.get::<_, Option<chrono::DateTime<chrono::Utc>>>(9),
            opt(utc).then(|| at_utc(utc.value(i)))
        );
        let raw = col(10);
        let raw = raw
            .as_any()
            .downcast_ref::<BinaryArray>()
            .map(|a| opt(a).then(|| a.value(i).to_vec()))
            .or_else(|| {
                raw.as_binary_view_opt()
                    .map(|a| opt(a).then(|| a.value(i).to_vec()))
            })
            .expect("binary");
        assert_eq!(row.get::<_, Option<Vec<u8>>>(10), raw);
    }
}

fn at_utc(micros: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(micros).expect("in range")
}

#[tokio::test]
async fn bad_sql_and_unknown_tables_get_an_error_and_the_connection_goes_on() {
    let s = server();
    let c = client(s).await;
    let code = |e: tokio_postgres::Error| {
        e.as_db_error()
            .map(|d| (d.code().code().to_string(), d.message().to_string()))
            .expect("a database error")
    };
    let (state, message) = code(c.simple_query("selec 1 frm").await.expect_err("bad sql"));
    assert_eq!(state, "42601", "{message}");
    let (state, message) = code(
        c.simple_query("select * from no_such_table")
            .await
            .expect_err("unknown table"),
    );
    assert_eq!(state, "42P01", "{message}");
    assert!(message.contains("no_such_table"), "{message}");
    // The same over the extended protocol (prepare fails, the connection stays usable).
    let (state, _) = code(
        c.query("select nope from typed where i4 = $1", &[&1i32])
            .await
            .expect_err("unknown column"),
    );
    assert_eq!(state, "42703");
    let (state, _) = code(c.prepare("select 1 +").await.expect_err("bad sql"));
    assert_eq!(state, "42601");
    let one: i64 = c
        .query_one("select count(*) from typed", &[])
        .await
        .expect("still usable")
        .get(0);
    assert!(one >= 3);
    // Garbage instead of a protocol message: the server drops that connection, nobody else.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut raw = tokio::net::TcpStream::connect(s.addr).await.expect("tcp");
    raw.write_all(b"\x00\x00\x00\x08garbage and more garbage")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ =
        tokio::time::timeout(std::time::Duration::from_secs(5), raw.read_to_end(&mut buf)).await;
    let after: i64 = client(s)
        .await
        .query_one("select count(*) from typed", &[])
        .await
        .expect("server still up")
        .get(0);
    assert_eq!(after, one);
}

#[tokio::test]
async fn writes_are_refused_as_read_only() {
    let s = server();
    let c = client(s).await;
    for sql in [
        "insert into typed (i4) values (1)",
        "update typed set i4 = 2",
        "delete from typed",
        "create table t (a int)",
        "create view v as select 1",
        "drop table typed",
        "select 1 as a into newtable",
    ] {
        let e = c.simple_query(sql).await.expect_err(sql);
        let db = e.as_db_error().expect("database error");
        assert_eq!(db.code().code(), "25006", "{sql}: {}", db.message());
        assert!(db.message().contains("read-only"), "{}", db.message());
        // Extended protocol too.
        let e = c.execute(sql, &[]).await.expect_err(sql);
        assert_eq!(
            e.as_db_error().map(|d| d.code().code()),
            Some("25006"),
            "{sql}"
        );
    }
    let n: i64 = c
        .query_one("select count(*) from typed", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 4, "nothing changed");
}

#[tokio::test]
async fn what_clients_send_on_connect_does_not_fail() {
    let s = server();
    let c = client(s).await;
    for sql in [
        "SET datestyle = 'ISO'",
        "SET extra_float_digits = 3",
        "SET application_name = 'PostgreSQL JDBC Driver'",
        "SET search_path = public",
        "SHOW transaction_isolation",
        "SHOW search_path",
        "BEGIN",
        "select 1",
        "COMMIT",
        "BEGIN READ ONLY",
        "ROLLBACK",
        "select version()",
        "select current_schema()",
        "select current_database()",
        "select current_user",
        "select pg_catalog.current_schemas(false)",
        "select * from information_schema.tables",
        "select * from pg_catalog.pg_type limit 5",
    ] {
        c.simple_query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
    let v: String = c
        .query_one("select version()", &[])
        .await
        .expect("version")
        .get(0);
    assert!(!v.is_empty());
}

#[tokio::test]
async fn a_view_registered_through_the_hook_is_queryable() {
    let s = server();
    let c = client(s).await;
    let row = c
        .query_one("select orders, total from metrics.typed_totals", &[])
        .await
        .expect("metric view");
    let orders: i64 = row.get(0);
    assert_eq!(orders, 4);
    let listed = c
        .simple_query(
            "select table_name from information_schema.tables where table_schema = 'metrics'",
        )
        .await
        .expect("listed");
    let names: Vec<String> = listed
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["typed_totals"]);
}

#[tokio::test]
async fn with_a_password_only_the_right_one_gets_in() {
    let s = server::with_password("correct horse");
    let wrong = client_with(s, Some("battery staple"))
        .await
        .expect_err("wrong password refused");
    assert_eq!(
        wrong.as_db_error().map(|d| d.code().code()),
        Some("28P01"),
        "{wrong:?}"
    );
    assert!(client_with(s, None).await.is_err(), "no password refused");
    let c = client_with(s, Some("correct horse"))
        .await
        .expect("right password");
    let n: i64 = c
        .query_one("select count(*) from typed", &[])
        .await
        .expect("query")
        .get(0);
    assert_eq!(n, 4);
}

#[tokio::test]
async fn a_new_connection_sees_a_rebuilt_warehouse() {
    let s = server::rebuildable();
    let before: i64 = client(s)
        .await
        .query_one("select count(*) from growing", &[])
        .await
        .expect("before")
        .get(0);
    assert_eq!(before, 1);
    let old = client(s).await;
    server::rebuild_growing(s, 3).await;
    let after: i64 = client(s)
        .await
        .query_one("select count(*) from growing", &[])
        .await
        .expect("after")
        .get(0);
    assert_eq!(after, 3, "a new connection reads the new version");
    // An open connection keeps its snapshot (and its prepared statements).
    let kept: i64 = old
        .query_one("select count(*) from growing", &[])
        .await
        .expect("old connection")
        .get(0);
    assert_eq!(kept, 1);
}

#[tokio::test]
async fn bench_streams_rows_over_the_wire() {
    let s = server();
    let rows = std::env::var("PULSE_WIRE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let b = pulse_warehouse::bench_wire(s.engines.clone(), rows)
        .await
        .expect("bench");
    assert_eq!(b.rows, rows);
    println!(
        "wire bench: {} rows in {:.3} s = {:.0} rows/s",
        b.rows,
        b.elapsed.as_secs_f64(),
        b.rows_per_second
    );
}
