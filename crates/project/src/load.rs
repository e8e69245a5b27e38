//! Reading a project folder into validated domain types, collecting every error at once.

use crate::config::{ModelConfig, ProjectConfig, SourceConfig, SourceTableConfig};
use crate::error::{ProjectError, ProjectErrors, line_of_offset};
use crate::expectations::{Check, Expectation, ExpectationConfig, SuiteConfig};
use crate::graph::ModelGraph;
use crate::template::{self, Dependencies, RenderContext};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Schema names DataFusion keeps for itself; a source may not take them.
const RESERVED_SCHEMAS: &[&str] = &["public", "information_schema", "pg_catalog", "datafusion"];

#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub file: PathBuf,
    pub config: SourceConfig,
    /// Each table's expectations, its own and its suites', parsed.
    pub expectations: BTreeMap<String, Vec<Expectation>>,
}

impl Source {
    pub fn table(&self, name: &str) -> Option<&SourceTableConfig> {
        self.config.tables.iter().find(|t| t.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    /// The folder below `models/` (`staging`, `marts`, …).
    pub layer: String,
    pub sql_file: PathBuf,
    pub config_file: Option<PathBuf>,
    /// The SQL template as written.
    pub sql: String,
    pub config: ModelConfig,
    pub depends_on: Dependencies,
    /// Its own expectations and its suites', parsed.
    pub expectations: Vec<Expectation>,
}

impl Model {
    pub fn render(&self, ctx: &RenderContext) -> Result<String, ProjectError> {
        template::render(&self.sql_file, &self.sql, ctx)
    }
}

#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub config_file: PathBuf,
    pub config: ProjectConfig,
    pub sources: Vec<Source>,
    /// In dependency order: every model comes after the models it refs.
    pub models: Vec<Model>,
    /// Named expectation suites, by file stem.
    pub suites: BTreeMap<String, Suite>,
    /// `metrics/*.toml`, in file order.
    pub metrics: Vec<crate::semantic::Metric>,
    /// `dashboards/*.toml`, by file name.
    pub dashboards: Vec<crate::semantic::Dashboard>,
}

/// `suites/<name>.toml`.
#[derive(Debug, Clone)]
pub struct Suite {
    pub file: PathBuf,
    pub config: SuiteConfig,
}

impl Project {
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name)
    }

    pub fn model(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.name == name)
    }

    pub fn metric(&self, name: &str) -> Option<&crate::semantic::Metric> {
        self.metrics.iter().find(|m| m.name() == name)
    }

    pub fn dashboard(&self, name: &str) -> Option<&crate::semantic::Dashboard> {
        self.dashboards.iter().find(|d| d.name == name)
    }

    /// A path written in a project file, relative to the project folder.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.root.join(p)
        }
    }

    pub fn graph(&self) -> ModelGraph {
        ModelGraph::new(self)
    }

    /// Loads and validates the project in `root`; every problem found is reported, each with file
    /// and line.
    pub fn load(root: &Path) -> Result<Project, ProjectErrors> {
        let mut errors = Vec::new();
        let config_file = root.join("pulse.toml");
        if !root.is_dir() {
            return Err(ProjectError::in_file(root, "no such project folder").into());
        }
        if !config_file.is_file() {
            return Err(ProjectError::in_file(
                &config_file,
                "missing: a project needs a pulse.toml (run `pulse init` to make one)",
            )
            .into());
        }
        let config: Option<ProjectConfig> = parse_toml_file(&config_file, &mut errors);
        let sources = load_sources(root, &mut errors);
        let mut models = load_models(root, config.as_ref(), &mut errors);
        let suites = load_suites(root, &mut errors);
        let metrics = crate::semantic::load_metrics(root, &mut errors);
        let dashboards = crate::semantic::load_dashboards(root, &mut errors);
        crate::semantic::check(&metrics, &dashboards, &models, &mut errors);
        let mut sources = sources;
        resolve_expectations(&mut sources, &mut models, &suites, &mut errors);
        check_names(&sources, &models, &mut errors);
        check_dependencies(&sources, &models, &mut errors);
        if errors.is_empty() {
            match crate::graph::order_models(&models) {
                Ok(order) => {
                    let mut by_name: BTreeMap<String, Model> =
                        models.drain(..).map(|m| (m.name.clone(), m)).collect();
                    models = order
                        .into_iter()
                        .filter_map(|name| by_name.remove(&name))
                        .collect();
                }
                Err(e) => errors.push(e),
            }
        }
        match config {
            Some(config) if errors.is_empty() => Ok(Project {
                root: root.to_path_buf(),
                config_file,
                config,
                sources,
                models,
                suites,
                metrics,
                dashboards,
            }),
            _ => Err(ProjectErrors(errors)),
        }
    }
}

fn parse_toml_file<T: DeserializeOwned>(file: &Path, errors: &mut Vec<ProjectError>) -> Option<T> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            errors.push(ProjectError::in_file(file, format!("cannot read: {e}")));
            return None;
        }
    };
    parse_toml(file, &text).map_err(|e| errors.push(e)).ok()
}

/// Parses TOML text, turning serde's byte span into a line number.
pub fn parse_toml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, ProjectError> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of_offset(text, s.start));
        ProjectError::new(file, line, e.message().trim().to_string())
    })
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn load_sources(root: &Path, errors: &mut Vec<ProjectError>) -> Vec<Source> {
    let mut sources = Vec::new();
    for file in sorted_entries(&root.join("sources")) {
        if file.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let Some(config) = parse_toml_file::<SourceConfig>(&file, errors) else {
            continue;
        };
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let name = config.name.clone().unwrap_or(stem);
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let line_of = |needle: &str| text.find(needle).map(|p| line_of_offset(&text, p));
        if config.connector.is_file_based() {
            for table in &config.tables {
                if table.file_column.is_some() && config.connector == crate::ConnectorKind::Files {
                    errors.push(ProjectError::new(
                        &file,
                        line_of("file_column"),
                        format!(
                            "table `{}`: a files source already names each row's file in its `path` column; remove `file_column`",
                            table.name
                        ),
                    ));
                }
                if table.path.is_none() {
                    errors.push(ProjectError::new(
                        &file,
                        line_of(&format!("\"{}\"", table.name)),
                        format!(
                            "table `{}`: a {} source table needs `path` (a glob relative to the project)",
                            table.name,
                            config.connector.as_str()
                        ),
                    ));
                }
            }
        } else if let Some(table) = config.tables.iter().find(|t| t.file_column.is_some()) {
            errors.push(ProjectError::new(
                &file,
                line_of("file_column"),
                format!(
                    "table `{}`: `file_column` is for file sources; a {} source has no files",
                    table.name,
                    config.connector.as_str()
                ),
            ));
        }
        if config.connector.is_server() {
            if config.url.is_none() {
                errors.push(ProjectError::new(
                    &file,
                    line_of("connector"),
                    format!(
                        "a {} source needs `url`, the connection string",
                        config.connector.as_str()
                    ),
                ));
            }
        } else if !config.connector.is_file_based() && config.path.is_none() {
            errors.push(ProjectError::new(
                &file,
                line_of("connector"),
                format!(
                    "a {} source needs `path`, the database file",
                    config.connector.as_str()
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        for table in &config.tables {
            if !seen.insert(table.name.as_str()) {
                errors.push(ProjectError::new(
                    &file,
                    line_of(&format!("\"{}\"", table.name)),
                    format!("table `{}` is declared twice", table.name),
                ));
            }
        }
        if config.tables.is_empty() {
            errors.push(ProjectError::in_file(
                &file,
                "a source needs at least one [[tables]] entry",
            ));
        }
        sources.push(Source {
            name,
            file,
            config,
            expectations: BTreeMap::new(),
        });
    }
    sources
}

fn collect_sql_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for path in sorted_entries(dir) {
        if path.is_dir() {
            collect_sql_files(&path, out);
        } else if path.extension().and_then(|e| e.to_str()) == Some("sql") {
            out.push(path);
        }
    }
}

fn load_models(
    root: &Path,
    config: Option<&ProjectConfig>,
    errors: &mut Vec<ProjectError>,
) -> Vec<Model> {
    let models_dir = root.join("models");
    let mut files = Vec::new();
    collect_sql_files(&models_dir, &mut files);
    let vars = config.map(|c| c.vars.clone()).unwrap_or_default();
    let mut models = Vec::new();
    // A model's .toml without its .sql is almost always a rename gone wrong.
    let mut tomls = Vec::new();
    collect_toml_files(&models_dir, &mut tomls);
    for toml_file in tomls {
        if !toml_file.with_extension("sql").is_file() {
            errors.push(ProjectError::in_file(
                &toml_file,
                format!(
                    "no model SQL beside this file (expected {})",
                    toml_file.with_extension("sql").display()
                ),
            ));
        }
    }
    for sql_file in files {
        let name = sql_file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let layer = sql_file
            .parent()
            .and_then(|p| p.strip_prefix(&models_dir).ok())
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let sql = match std::fs::read_to_string(&sql_file) {
            Ok(s) => s,
            Err(e) => {
                errors.push(ProjectError::in_file(
                    &sql_file,
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        };
        if sql.trim().is_empty() {
            errors.push(ProjectError::in_file(
                &sql_file,
                "the model is empty: write one SELECT",
            ));
            continue;
        }
        let config_path = sql_file.with_extension("toml");
        let (config, config_file) = if config_path.is_file() {
            match parse_toml_file::<ModelConfig>(&config_path, errors) {
                Some(c) => (c, Some(config_path)),
                None => continue,
            }
        } else {
            (ModelConfig::default(), None)
        };
        if config.materialized == crate::config::Materialization::Incremental
            && config.partition_by.is_none()
        {
            errors.push(ProjectError::in_file(
                config_file.as_deref().unwrap_or(&sql_file),
                "an incremental model needs `partition_by`, the DATE column a run replaces",
            ));
        }
        let depends_on = match template::dependencies(&sql_file, &sql, &vars) {
            Ok(d) => d,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        models.push(Model {
            name,
            layer,
            sql_file,
            config_file,
            sql,
            config,
            depends_on,
            expectations: Vec::new(),
        });
    }
    models
}

fn collect_toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for path in sorted_entries(dir) {
        if path.is_dir() {
            collect_toml_files(&path, out);
        } else if path.extension().and_then(|e| e.to_str()) == Some("toml") {
            out.push(path);
        }
    }
}

/// Names become SQL identifiers unquoted, so they must survive DataFusion's lower-casing.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn check_names(sources: &[Source], models: &[Model], errors: &mut Vec<ProjectError>) {
    let mut seen_sources: BTreeMap<&str, &Path> = BTreeMap::new();
    for s in sources {
        if !is_identifier(&s.name) {
            errors.push(ProjectError::in_file(
                &s.file,
                format!("source name `{}` must be lower_snake_case", s.name),
            ));
        }
        if RESERVED_SCHEMAS.contains(&s.name.as_str()) {
            errors.push(ProjectError::in_file(
                &s.file,
                format!("source name `{}` is reserved; choose another", s.name),
            ));
        }
        if let Some(first) = seen_sources.insert(&s.name, &s.file) {
            errors.push(ProjectError::in_file(
                &s.file,
                format!(
                    "source `{}` is already defined in {}",
                    s.name,
                    first.display()
                ),
            ));
        }
        for t in &s.config.tables {
            if !is_identifier(&t.name) {
                errors.push(ProjectError::in_file(
                    &s.file,
                    format!("table name `{}` must be lower_snake_case", t.name),
                ));
            }
        }
    }
    let mut seen_models: BTreeMap<&str, &Path> = BTreeMap::new();
    for m in models {
        if !is_identifier(&m.name) {
            errors.push(ProjectError::in_file(
                &m.sql_file,
                format!(
                    "model name `{}` must be lower_snake_case (it is the file name)",
                    m.name
                ),
            ));
        }
        if let Some(first) = seen_models.insert(&m.name, &m.sql_file) {
            errors.push(ProjectError::in_file(
                &m.sql_file,
                format!(
                    "model `{}` is already defined in {}",
                    m.name,
                    first.display()
                ),
            ));
        }
    }
}

fn check_dependencies(sources: &[Source], models: &[Model], errors: &mut Vec<ProjectError>) {
    let model_names: BTreeSet<&str> = models.iter().map(|m| m.name.as_str()).collect();
    for m in models {
        for r in &m.depends_on.refs {
            if !model_names.contains(r.as_str()) {
                let hint = closest(r, model_names.iter().copied())
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                errors.push(ProjectError::new(
                    &m.sql_file,
                    template::line_of_mention(&m.sql, r),
                    format!("ref('{r}'): no model named `{r}`{hint}"),
                ));
            }
        }
        for (system, table) in &m.depends_on.sources {
            let line = template::line_of_mention(&m.sql, table);
            match sources.iter().find(|s| &s.name == system) {
                None => errors.push(ProjectError::new(
                    &m.sql_file,
                    template::line_of_mention(&m.sql, system),
                    format!(
                        "source('{system}', '{table}'): no source named `{system}` in sources/"
                    ),
                )),
                Some(s) if s.table(table).is_none() => errors.push(ProjectError::new(
                    &m.sql_file,
                    line,
                    format!(
                        "source('{system}', '{table}'): {} declares no table `{table}`",
                        s.file.display()
                    ),
                )),
                Some(_) => {}
            }
        }
    }
}

/// The known name nearest to a misspelt one, when it is near enough to be a typo.
fn closest<'a>(wanted: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| (edit_distance(wanted, k), k))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn load_suites(root: &Path, errors: &mut Vec<ProjectError>) -> BTreeMap<String, Suite> {
    let mut suites = BTreeMap::new();
    for file in sorted_entries(&root.join("suites")) {
        if file.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let Some(config) = parse_toml_file::<SuiteConfig>(&file, errors) else {
            continue;
        };
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        suites.insert(name, Suite { file, config });
    }
    suites
}

/// The line of the `n`th (0-based) `expectation = ...` key in a TOML text.
fn nth_expectation_line(text: &str, n: usize) -> Option<usize> {
    let mut seen = 0;
    let mut offset = 0;
    while let Some(pos) = text[offset..].find("expectation") {
        let at = offset + pos;
        let rest = text[at + "expectation".len()..].trim_start_matches([' ', '\t']);
        let before = text[..at].chars().next_back();
        let is_key = rest.starts_with('=')
            && before.is_none_or(|c| c.is_whitespace() || c == '{' || c == ',');
        if is_key {
            if seen == n {
                return Some(line_of_offset(text, at));
            }
            seen += 1;
        }
        offset = at + "expectation".len();
    }
    None
}

/// Parses one dataset's expectations and its suites' into `out`, reporting mistakes with the
/// file and line they come from.
fn parse_expectations(
    file: &Path,
    first_index: usize,
    own: &[ExpectationConfig],
    suite_names: &[String],
    suites: &BTreeMap<String, Suite>,
    errors: &mut Vec<ProjectError>,
) -> Vec<Expectation> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut out = Vec::new();
    for (i, config) in own.iter().enumerate() {
        match config.parse() {
            Ok(e) => out.push(e),
            Err(message) => errors.push(ProjectError::new(
                file,
                nth_expectation_line(&text, first_index + i),
                message,
            )),
        }
    }
    for name in suite_names {
        let Some(suite) = suites.get(name) else {
            let known = closest(name, suites.keys().map(String::as_str));
            errors.push(ProjectError::new(
                file,
                text.find(&format!("\"{name}\""))
                    .map(|p| line_of_offset(&text, p)),
                match known {
                    Some(k) => format!("unknown suite `{name}` (did you mean `{k}`?)"),
                    None => format!("unknown suite `{name}`: expected suites/{name}.toml"),
                },
            ));
            continue;
        };
        let suite_text = std::fs::read_to_string(&suite.file).unwrap_or_default();
        for (i, config) in suite.config.expectations.iter().enumerate() {
            match config.parse() {
                Ok(e) => out.push(e),
                Err(message) => errors.push(ProjectError::new(
                    &suite.file,
                    nth_expectation_line(&suite_text, i),
                    message,
                )),
            }
        }
    }
    out
}

fn resolve_expectations(
    sources: &mut [Source],
    models: &mut [Model],
    suites: &BTreeMap<String, Suite>,
    errors: &mut Vec<ProjectError>,
) {
    for source in sources.iter_mut() {
        let mut index = 0;
        let mut by_table = BTreeMap::new();
        for table in &source.config.tables {
            let parsed = parse_expectations(
                &source.file,
                index,
                &table.expectations,
                &table.suites,
                suites,
                errors,
            );
            index += table.expectations.len();
            by_table.insert(table.name.clone(), parsed);
        }
        source.expectations = by_table;
    }
    for model in models.iter_mut() {
        let file = model
            .config_file
            .clone()
            .unwrap_or_else(|| model.sql_file.clone());
        model.expectations = parse_expectations(
            &file,
            0,
            &model.config.expectations,
            &model.config.suites,
            suites,
            errors,
        );
    }
    // `relationships` must point at a dataset that exists.
    let model_names: BTreeSet<String> = models.iter().map(|m| m.name.clone()).collect();
    let source_tables: BTreeSet<String> = sources
        .iter()
        .flat_map(|s| {
            s.config
                .tables
                .iter()
                .map(move |t| format!("{}.{}", s.name, t.name))
        })
        .collect();
    let mut check_to = |file: &Path, e: &Expectation| {
        if let Check::ColumnMap {
            map: crate::expectations::ColumnMap::InRelation { to, .. },
            ..
        } = &e.check
            && !model_names.contains(to)
            && !source_tables.contains(to)
        {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            errors.push(ProjectError::new(
                file,
                text.find(&format!("\"{to}\"")).map(|p| line_of_offset(&text, p)),
                format!("`relationships` points at `{to}`, which is neither a model nor a source table (`source.table`)"),
            ));
        }
    };
    for s in sources.iter() {
        for e in s.expectations.values().flatten() {
            check_to(&s.file, e);
        }
    }
    for m in models.iter() {
        let file = m.config_file.clone().unwrap_or_else(|| m.sql_file.clone());
        for e in &m.expectations {
            check_to(&file, e);
        }
    }
}
