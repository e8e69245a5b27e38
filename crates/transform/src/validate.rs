//! Runs a dataset's expectations (compiled by `pulse-quality`) on DataFusion, and moves the rows
//! that fail row-level expectations to quarantine.

use crate::error::{Result, TransformError};
use crate::session::Engine;
use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use deltalake::protocol::SaveMode;
use pulse_project::Expectation;
use pulse_quality::{
    EvaluationContext, ExpectationResult, Observations, PARTIAL_UNEXPECTED_LIMIT, Plan,
    SeparateKind, ValidationSummary,
};
use serde_json::{Map, Value};
use std::sync::Arc;

/// How to validate.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    pub context: EvaluationContext,
    /// Rows listed in `partial_unexpected_list`.
    pub sample_limit: usize,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        Self {
            context: EvaluationContext::default(),
            sample_limit: PARTIAL_UNEXPECTED_LIMIT,
        }
    }
}

/// The outcome of validating one dataset, with the plan (for quarantine) kept.
pub struct Validation {
    pub plan: Plan,
    pub summary: ValidationSummary,
}

impl Validation {
    /// Row-level failures that have rows to move.
    pub fn has_rows_to_quarantine(&self) -> bool {
        let quarantining = self.plan.quarantining();
        self.summary
            .results
            .iter()
            .enumerate()
            .any(|(i, r)| quarantining.contains(&i) && r.unexpected_count.unwrap_or(0) > 0)
    }
}

/// Rows of a query result as JSON objects (nulls omitted).
pub fn rows_as_json(batches: &[RecordBatch]) -> Result<Vec<Map<String, Value>>> {
    let mut writer = datafusion::arrow::json::ArrayWriter::new(Vec::new());
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    writer
        .write_batches(&refs)
        .map_err(datafusion::error::DataFusionError::from)?;
    writer
        .finish()
        .map_err(datafusion::error::DataFusionError::from)?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&bytes).map_err(|e| TransformError::Warehouse {
        url: String::new(),
        message: format!("reading query results as JSON: {e}"),
    })
}

impl Engine {
    /// Checks `expectations` against the dataset SQL names `table` (quoted, e.g.
    /// `"orders"."payments"` or `"fct_orders"`); `dataset` is its display name.
    pub async fn validate(
        &self,
        dataset: &str,
        table: &str,
        expectations: &[Expectation],
        opts: &ValidateOptions,
    ) -> Result<Validation> {
        let df = self
            .ctx
            .sql(&format!("SELECT * FROM {table} LIMIT 0"))
            .await?;
        let schema = df.schema().as_arrow().clone();
        let plan = Plan::new(table, &schema, expectations);

        let mut obs = Observations::default();
        let aggregate = self.query(&plan.aggregate_sql()).await?;
        obs.aggregate = rows_as_json(&aggregate.1)?
            .into_iter()
            .next()
            .unwrap_or_default();
        let row_count = obs.aggregate.get("n").and_then(Value::as_u64).unwrap_or(0);

        for q in plan.separate_queries() {
            let outcome = match q.kind {
                SeparateKind::Ordered => self.run_in_table_order(&q.sql).await,
                SeparateKind::Count => run(&self.ctx, &q.sql).await,
            };
            match outcome {
                Ok(batches) => {
                    let row = rows_as_json(&batches)?
                        .into_iter()
                        .next()
                        .unwrap_or_default();
                    obs.separate.insert(q.index, row);
                }
                Err(e) => {
                    obs.errors.insert(q.index, e.to_string());
                }
            }
        }

        // Samples only for what failed somewhere: a clean table costs one scan.
        let first = plan.results(&obs, &opts.context);
        for (i, r) in first.iter().enumerate() {
            if r.unexpected_count.unwrap_or(0) == 0 || opts.sample_limit == 0 {
                continue;
            }
            let Some(sql) = plan.sample_sql(i, opts.sample_limit) else {
                continue;
            };
            // In table order, so order-dependent checks list the values that broke the order.
            match self.run_in_table_order(&sql).await {
                Ok(batches) => {
                    let rows = rows_as_json(&batches)?;
                    let values = rows
                        .into_iter()
                        .map(|mut row| match row.remove("value") {
                            Some(v) if row.is_empty() => v,
                            Some(v) => v,
                            None if row.is_empty() => Value::Null,
                            None => Value::Object(row),
                        })
                        .collect();
                    obs.samples.insert(i, values);
                }
                Err(e) => {
                    obs.errors.insert(i, e.to_string());
                }
            }
        }
        let results: Vec<ExpectationResult> = plan.results(&obs, &opts.context);
        let summary = ValidationSummary::new(dataset, row_count, results, 0);
        Ok(Validation { plan, summary })
    }

    /// Runs a query reading its input in one partition, so rows arrive in the table's order
    /// (files in order, rows in file order), as order-dependent checks need.
    async fn run_in_table_order(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let set = |n: usize| {
            let state = self.ctx.state_ref();
            let mut state = state.write();
            state.config_mut().options_mut().execution.target_partitions = n;
        };
        let before = self.ctx.state().config().target_partitions();
        set(1);
        let out = run(&self.ctx, sql).await;
        set(before);
        out
    }

    /// Writes the quarantined rows of a validated dataset to the warehouse table `quarantine`
    /// (replacing it, or appending with `append`) and returns the query that reads the clean
    /// rows. Counts per expectation are filled into the summary; clean + quarantined = input.
    pub async fn quarantine(
        &self,
        validation: &mut Validation,
        quarantine_table: &str,
        append: bool,
    ) -> Result<Option<String>> {
        let Some((clean_sql, quarantined_sql)) = validation.plan.quarantine_sql() else {
            return Ok(None);
        };
        let df = self.ctx.sql(&quarantined_sql).await?;
        let plan = df.logical_plan().clone();
        let table = self.warehouse.open_or_create(quarantine_table).await?;
        let written = table
            .write(Vec::new())
            .with_input_plan(plan)
            .with_session_state(Arc::new(self.ctx.state()))
            .with_save_mode(if append {
                SaveMode::Append
            } else {
                SaveMode::Overwrite
            })
            .with_schema_mode(deltalake::operations::write::SchemaMode::Merge)
            .with_table_name(quarantine_table.to_string())
            .await
            .map_err(|source| TransformError::Delta {
                table: quarantine_table.to_string(),
                source,
            })?;
        crate::models::register_table(self, quarantine_table, &written).await?;
        let quarantining = validation.plan.quarantining();
        for (i, r) in validation.summary.results.iter_mut().enumerate() {
            if quarantining.contains(&i) {
                r.quarantined = r.unexpected_count.unwrap_or(0);
            }
        }
        // A row failing two expectations is one quarantined row: count what was written.
        let total = crate::models::added_rows(&written).await;
        validation.summary.quarantined_rows = total;
        Ok(Some(clean_sql))
    }
}

async fn run(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(ctx.sql(sql).await?.collect().await?)
}

/// The warehouse table that keeps a dataset's quarantined rows.
pub fn quarantine_table_name(dataset: &str) -> String {
    format!("{}__quarantine", dataset.replace('.', "__"))
}

impl Engine {
    /// Identifies what validating a source table would read and check: its landed files and
    /// the expectations.
    pub fn source_validation_fingerprint(
        &self,
        source: &str,
        table: &str,
        expectations: &[Expectation],
    ) -> String {
        use sha2::{Digest, Sha256};
        let files = self
            .source_fingerprints
            .lock()
            .ok()
            .and_then(|f| f.get(&format!("{source}.{table}")).cloned())
            .unwrap_or_default();
        let mut h = Sha256::new();
        h.update(files.as_bytes());
        h.update(format!("{expectations:?}").as_bytes());
        hex::encode(h.finalize())
    }

    /// Points `source.table` at its clean rows again, from an earlier validation whose
    /// quarantine table is current; nothing is read or written.
    pub async fn reuse_source_quarantine(
        &self,
        source: &str,
        table: &str,
        expectations: &[Expectation],
    ) -> Result<()> {
        let sql_name = format!(
            "{}.{}",
            pulse_quality::quote_ident(source),
            pulse_quality::quote_ident(&crate::session::raw_name(table))
        );
        let df = self
            .ctx
            .sql(&format!("SELECT * FROM {sql_name} LIMIT 0"))
            .await?;
        let schema = df.schema().as_arrow().clone();
        let plan = Plan::new(&sql_name, &schema, expectations);
        if let Some((clean, _)) = plan.quarantine_sql() {
            self.restrict_source_table(source, table, &clean).await?;
        }
        Ok(())
    }

    /// Validates a landed source table (everything landed so far). Rows failing row-level
    /// expectations go to its quarantine table and models read only the clean rest.
    pub async fn validate_source_table(
        &self,
        source: &str,
        table: &str,
        expectations: &[Expectation],
        opts: &ValidateOptions,
    ) -> Result<ValidationSummary> {
        let dataset = format!("{source}.{table}");
        let sql_name = format!(
            "{}.{}",
            pulse_quality::quote_ident(source),
            pulse_quality::quote_ident(&crate::session::raw_name(table))
        );
        let mut validation = self
            .validate(&dataset, &sql_name, expectations, opts)
            .await?;
        if validation.has_rows_to_quarantine()
            && let Some(clean) = self
                .quarantine(&mut validation, &quarantine_table_name(&dataset), false)
                .await?
        {
            self.restrict_source_table(source, table, &clean).await?;
        }
        Ok(validation.summary)
    }

    /// Validates a model just built. Rows failing row-level expectations move to
    /// `<model>__quarantine` and the model's table is rewritten with the clean rest.
    pub async fn validate_model(
        &self,
        model: &pulse_project::Model,
        opts: &ValidateOptions,
    ) -> Result<ValidationSummary> {
        let sql_name = pulse_quality::quote_ident(&model.name);
        let mut validation = self
            .validate(&model.name, &sql_name, &model.expectations, opts)
            .await?;
        let materialized = model.config.materialized;
        if validation.has_rows_to_quarantine()
            && materialized != pulse_project::Materialization::View
        {
            // An incremental model keeps earlier days' quarantined rows: they already left it.
            let append = materialized == pulse_project::Materialization::Incremental;
            if let Some(clean) = self
                .quarantine(&mut validation, &quarantine_table_name(&model.name), append)
                .await?
            {
                self.rewrite_model(model, &clean).await?;
            }
        }
        Ok(validation.summary)
    }

    async fn rewrite_model(&self, model: &pulse_project::Model, clean_sql: &str) -> Result<()> {
        let df = self
            .ctx
            .sql(clean_sql)
            .await
            .map_err(|e| TransformError::model(model, e))?;
        let plan = df.logical_plan().clone();
        let table = self.warehouse.open_or_create(&model.name).await?;
        let mut builder = table
            .write(Vec::new())
            .with_input_plan(plan)
            .with_session_state(Arc::new(self.ctx.state()))
            .with_save_mode(SaveMode::Overwrite)
            .with_table_name(model.name.clone());
        if let Some(column) = &model.config.partition_by {
            builder = builder.with_partition_columns(vec![column.clone()]);
        }
        let written = builder.await.map_err(|e| TransformError::model(model, e))?;
        crate::models::register_table(self, &model.name, &written).await
    }

    /// Makes the quarantine tables of the project's datasets readable by name.
    pub async fn register_quarantine_tables(&self, project: &pulse_project::Project) -> Result<()> {
        let mut names: Vec<String> = project
            .models
            .iter()
            .filter(|m| !m.expectations.is_empty())
            .map(|m| quarantine_table_name(&m.name))
            .collect();
        for s in &project.sources {
            for (table, expectations) in &s.expectations {
                if !expectations.is_empty() {
                    names.push(quarantine_table_name(&format!("{}.{table}", s.name)));
                }
            }
        }
        for name in names {
            if let Some(table) = self.warehouse.open_table(&name).await? {
                crate::models::register_table(self, &name, &table).await?;
            }
        }
        Ok(())
    }
}
