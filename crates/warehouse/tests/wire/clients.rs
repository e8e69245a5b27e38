//! The command-line and driver clients analysts and BI tools use.

use crate::{require, server};
use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("client runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "{cmd:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

fn psql(args: &[&str]) -> String {
    let s = server();
    run(Command::new("psql")
        .args([
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            &s.addr.ip().to_string(),
            "-p",
            &s.addr.port().to_string(),
            "-U",
            "analyst",
            "-d",
            "pulse",
        ])
        .args(args)
        .env_remove("PGPASSWORD"))
}

#[test]
fn psql_lists_tables_describes_one_and_selects() {
    require("psql", &["--version"], "psql (postgresql-client)");
    let tables = psql(&["-c", "\\dt"]);
    assert!(tables.contains("typed"), "{tables}");
    assert!(tables.contains("orders"), "{tables}");
    assert!(tables.contains("public"), "{tables}");

    let described = psql(&["-c", "\\d typed"]);
    for (column, ty) in [
        ("i2", "smallint"),
        ("i4", "integer"),
        ("i8", "bigint"),
        ("f4", "real"),
        ("f8", "double precision"),
        ("flag", "boolean"),
        ("day", "date"),
        ("raw", "bytea"),
    ] {
        let line = described
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{column} ")))
            .unwrap_or_else(|| panic!("no column {column} in\n{described}"));
        assert!(
            line.contains(ty),
            "{column} should be {ty}: {line}\n{described}"
        );
    }
    assert!(described.contains("timestamp"), "{described}");

    let selected = psql(&[
        "-A",
        "-t",
        "-c",
        "select i4, label, day, flag from typed where i4 <= 20 order by i4",
    ]);
    assert_eq!(
        selected.trim(),
        "10|alpha|2026-01-02|t\n20|beta ünïcode|1999-12-31|f",
        "{selected}"
    );
    // psql's own connection-time queries and a refused write, with a clear message.
    let s = server();
    let out = Command::new("psql")
        .args([
            "-X",
            "-h",
            &s.addr.ip().to_string(),
            "-p",
            &s.addr.port().to_string(),
            "-U",
            "analyst",
            "-d",
            "pulse",
            "-c",
            "drop table typed",
        ])
        .output()
        .expect("psql");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("read-only"), "{err}");
}

#[test]
fn psycopg_runs_parameterised_queries_of_each_type() {
    require(
        "python3",
        &["-c", "import psycopg"],
        "Python's psycopg (pip install \"psycopg[binary]\")",
    );
    let s = server();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wire/psycopg_check.py");
    let out = run(Command::new("python3")
        .arg(script)
        .arg(s.addr.port().to_string()));
    assert!(out.contains("psycopg ok"), "{out}");
}

#[test]
fn jdbc_lists_tables_and_columns_and_runs_a_prepared_statement() {
    require("java", &["-version"], "Java 17 (a JDK)");
    let jar = "/usr/share/java/postgresql.jar";
    assert!(
        Path::new(jar).exists(),
        "{jar} is needed (Debian's libpostgresql-jdbc-java): scripts/test.sh installs it"
    );
    let s = server();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wire/WireJdbc.java");
    let out = run(Command::new("java")
        .args(["-cp", jar])
        .arg(source)
        .arg(format!(
            "jdbc:postgresql://{}:{}/pulse?user=analyst",
            s.addr.ip(),
            s.addr.port()
        )));
    let tables: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("table "))
        .collect();
    assert!(tables.contains(&"public.typed"), "{out}");
    assert!(tables.contains(&"public.orders"), "{out}");
    assert!(tables.contains(&"metrics.typed_totals"), "{out}");
    for expected in [
        "column typed.i2 int2",
        "column typed.i4 int4",
        "column typed.i8 int8",
        "column typed.f4 float4",
        "column typed.f8 float8",
        "column typed.flag bool",
        "column typed.day date",
        "column typed.raw bytea",
        "int 20 -> beta ünïcode",
        "string alpha -> 10",
        "long 3000000000 -> 20",
        "double 3.125 -> 30",
        "bool false -> 20",
        "date 2000-02-29 -> 30",
        "timestamp 2026-01-02 03:04:05.123456 -> 10",
        "bytes 61 -> 20",
        "jdbc ok",
    ] {
        assert!(out.contains(expected), "missing `{expected}` in\n{out}");
    }
}
