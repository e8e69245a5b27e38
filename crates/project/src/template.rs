//! Model SQL is a minijinja template: `{{ ref('m') }}`, `{{ source('s', 't') }}`,
//! `{% if is_incremental() %}`, `{{ logical_date }}` and `{{ var('x') }}`, the names dbt users know.

use crate::error::{ProjectError, line_of_offset};
use minijinja::{Environment, Error as JinjaError, ErrorKind, Value, context};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// What a model's SQL refers to, found by rendering it in both incremental modes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Dependencies {
    pub refs: Vec<String>,
    pub sources: Vec<(String, String)>,
}

/// How a model is rendered for one execution.
#[derive(Debug, Clone, Default)]
pub struct RenderContext {
    /// True when the target table exists and the run is for one logical date.
    pub incremental: bool,
    pub logical_date: Option<String>,
    pub vars: BTreeMap<String, toml::Value>,
}

#[derive(Default)]
struct Recorder {
    refs: Vec<String>,
    sources: Vec<(String, String)>,
}

fn environment(recorder: Arc<Mutex<Recorder>>, ctx: &RenderContext) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let refs = recorder.clone();
    env.add_function("ref", move |name: String| -> Result<Value, JinjaError> {
        if let Ok(mut r) = refs.lock()
            && !r.refs.contains(&name)
        {
            r.refs.push(name.clone());
        }
        Ok(Value::from_safe_string(name))
    });
    let sources = recorder;
    env.add_function(
        "source",
        move |system: String, table: String| -> Result<Value, JinjaError> {
            if let Ok(mut r) = sources.lock() {
                let pair = (system.clone(), table.clone());
                if !r.sources.contains(&pair) {
                    r.sources.push(pair);
                }
            }
            Ok(Value::from_safe_string(format!("{system}.{table}")))
        },
    );
    let incremental = ctx.incremental;
    env.add_function("is_incremental", move || incremental);
    let vars = ctx.vars.clone();
    env.add_function(
        "var",
        move |name: String, default: Option<Value>| -> Result<Value, JinjaError> {
            match vars.get(&name) {
                Some(v) => Ok(Value::from(minijinja::value::Serde(v))),
                None => default.ok_or_else(|| {
                    JinjaError::new(
                        ErrorKind::UndefinedError,
                        format!("var('{name}') is not set in pulse.toml [vars] and has no default"),
                    )
                }),
            }
        },
    );
    env
}

fn jinja_error(file: &Path, e: &JinjaError) -> ProjectError {
    let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
    ProjectError::new(file, e.line(), format!("{}{detail}", e.kind()))
}

/// Renders a model's SQL for execution.
pub fn render(file: &Path, sql: &str, ctx: &RenderContext) -> Result<String, ProjectError> {
    let recorder = Arc::new(Mutex::new(Recorder::default()));
    render_with(file, sql, ctx, recorder)
}

fn render_with(
    file: &Path,
    sql: &str,
    ctx: &RenderContext,
    recorder: Arc<Mutex<Recorder>>,
) -> Result<String, ProjectError> {
    let env = environment(recorder, ctx);
    let logical_date = ctx.logical_date.clone().unwrap_or_default();
    env.render_str(sql, context! { logical_date => logical_date })
        .map_err(|e| jinja_error(file, &e))
}

/// Finds what a model reads. Both branches of `is_incremental()` are rendered so that a ref used
/// only in one of them is still an edge of the graph.
pub fn dependencies(
    file: &Path,
    sql: &str,
    vars: &BTreeMap<String, toml::Value>,
) -> Result<Dependencies, ProjectError> {
    let recorder = Arc::new(Mutex::new(Recorder::default()));
    for incremental in [false, true] {
        let ctx = RenderContext {
            incremental,
            logical_date: Some("2000-01-01".to_string()),
            vars: vars.clone(),
        };
        render_with(file, sql, &ctx, recorder.clone())?;
    }
    let r = recorder
        .lock()
        .map_err(|_| ProjectError::in_file(file, "internal error: template recorder poisoned"))?;
    Ok(Dependencies {
        refs: r.refs.clone(),
        sources: r.sources.clone(),
    })
}

/// The line on which a template mentions `name` inside a call, for errors about that name.
pub fn line_of_mention(sql: &str, name: &str) -> Option<usize> {
    for quote in ['\'', '"'] {
        let needle = format!("{quote}{name}{quote}");
        if let Some(pos) = sql.find(&needle) {
            return Some(line_of_offset(sql, pos));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_refs_and_sources_in_both_branches() {
        let sql = "select * from {{ ref('a') }} join {{ source('orders', 'orders') }} using (id)\n\
                   {% if is_incremental() %} where d = '{{ logical_date }}' and x in (select x from {{ ref('b') }}) {% endif %}";
        let deps = dependencies(Path::new("m.sql"), sql, &BTreeMap::new()).expect("renders");
        assert_eq!(deps.refs, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(
            deps.sources,
            vec![("orders".to_string(), "orders".to_string())]
        );
    }

    #[test]
    fn renders_incremental_branch_only_when_asked() {
        let sql = "select 1 from {{ ref('a') }}{% if is_incremental() %} where d = date '{{ logical_date }}'{% endif %}";
        let full = render(Path::new("m.sql"), sql, &RenderContext::default()).expect("renders");
        assert_eq!(full, "select 1 from a");
        let ctx = RenderContext {
            incremental: true,
            logical_date: Some("2026-11-02".into()),
            ..Default::default()
        };
        let inc = render(Path::new("m.sql"), sql, &ctx).expect("renders");
        assert_eq!(inc, "select 1 from a where d = date '2026-11-02'");
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let err = render(
            Path::new("models/m.sql"),
            "select 1\nfrom {{ ref('a') ",
            &RenderContext::default(),
        )
        .expect_err("must fail");
        assert_eq!(err.line, Some(2));
        assert!(err.to_string().starts_with("models/m.sql:2: "), "{err}");
    }

    #[test]
    fn missing_var_is_an_error() {
        let err = render(
            Path::new("m.sql"),
            "select {{ var('nope') }}",
            &RenderContext::default(),
        )
        .expect_err("must fail");
        assert!(err.message.contains("var('nope')"), "{err}");
    }
}
