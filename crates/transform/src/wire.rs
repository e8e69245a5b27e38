//! The DataFusion side of the PostgreSQL wire endpoint (`pulse-warehouse` owns the sockets,
//! authentication and configuration). datafusion-postgres brings the protocol handlers, the
//! Arrow <-> wire encoding, `pg_catalog` and the rewriting of the catalog queries that psql,
//! JDBC and BI tools send; this file makes an [`Engine`] look like PostgreSQL to them and keeps
//! the endpoint read-only.

use crate::error::{Result, TransformError};
use crate::session::Engine;
use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{SetExpr, Statement};
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::setup_pg_catalog;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use pgwire::api::ClientInfo;
use pgwire::api::results::Response;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use std::sync::Arc;

pub use datafusion_postgres::DfSessionService;

/// The catalog DataFusion creates by default; clients see it as the database.
const CATALOG: &str = "datafusion";

/// SQLSTATE of PostgreSQL's own refusal on a read-only transaction.
pub const READ_ONLY_SQLSTATE: &str = "25006";

impl Engine {
    /// Registers `pg_catalog` (tables, and functions such as `format_type`, `current_schema`,
    /// `pg_table_is_visible`) in this session, over whatever tables it holds now or later.
    /// Once per engine: the tables are computed from the session's catalog on every read.
    pub fn install_pg_catalog(&self) -> Result<()> {
        setup_pg_catalog(&self.ctx, CATALOG, EmptyContextProvider).map_err(|e| {
            TransformError::Warehouse {
                url: self.warehouse.url().to_string(),
                message: format!("setting up pg_catalog: {e}"),
            }
        })
    }

    /// Makes `sql` (a SELECT) readable as `schema.name` (or `name` in the default schema), e.g.
    /// a metric of the semantic layer.
    pub async fn register_view(&self, schema: Option<&str>, name: &str, sql: &str) -> Result<()> {
        let view = self.ctx.sql(sql).await?.into_view();
        let provider = match schema {
            Some(s) => self.schema_provider(s)?,
            None => {
                let state = self.ctx.state();
                let default = &state.config().options().catalog.default_schema;
                self.schema_provider(default)?
            }
        };
        let _registering = self.registry.lock().await;
        provider.deregister_table(name)?;
        provider.register_table(name.to_string(), view)?;
        Ok(())
    }

    /// A wire-protocol session over this engine: clients' SET/SHOW, transactions and cursors are
    /// answered, everything that would write is refused with SQLSTATE 25006.
    pub fn wire_service(&self) -> DfSessionService {
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(ReadOnlyHook),
            Arc::new(CursorStatementHook),
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
        ];
        // A SessionContext clone shares the session state: tables registered later are seen.
        DfSessionService::new_with_hooks(Arc::new(self.ctx.clone()), hooks)
    }
}

/// Why a statement is refused, `None` when it only reads.
pub fn write_refusal(statement: &Statement) -> Option<String> {
    let what = match statement {
        Statement::Query(q) => {
            return query_writes(q).then(|| {
                "cannot write through the warehouse endpoint: it is read-only (SELECT ... INTO \
                 and data-modifying WITH are writes)"
                    .to_string()
            });
        }
        Statement::Explain {
            statement, analyze, ..
        } => {
            // Plain EXPLAIN only plans; EXPLAIN ANALYZE runs the statement.
            return if *analyze {
                write_refusal(statement)
            } else {
                None
            };
        }
        Statement::ExplainTable { .. }
        | Statement::Set(_)
        | Statement::ShowFunctions { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowCreate { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowViews { .. }
        | Statement::ShowCollation { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Deallocate { .. }
        | Statement::Discard { .. }
        | Statement::Reset(_) => return None,
        Statement::Insert(_) => "INSERT",
        Statement::Update(_) => "UPDATE",
        Statement::Delete(_) => "DELETE",
        Statement::Merge(_) => "MERGE",
        Statement::Truncate(_) => "TRUNCATE",
        Statement::Copy { .. } => "COPY",
        Statement::CreateTable(_) | Statement::CreateView(_) | Statement::CreateSchema { .. } => {
            "CREATE"
        }
        Statement::Drop { .. } => "DROP",
        Statement::AlterTable(_) => "ALTER",
        _ => "this statement",
    };
    Some(format!(
        "cannot execute {what} through the warehouse endpoint: it is read-only (models are built \
         by `pulse run`)"
    ))
}

fn query_writes(query: &datafusion::sql::sqlparser::ast::Query) -> bool {
    let cte_writes = query
        .with
        .as_ref()
        .is_some_and(|w| w.cte_tables.iter().any(|cte| query_writes(&cte.query)));
    cte_writes || set_expr_writes(&query.body)
}

fn set_expr_writes(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => select.into.is_some(),
        SetExpr::Query(q) => query_writes(q),
        SetExpr::SetOperation { left, right, .. } => {
            set_expr_writes(left) || set_expr_writes(right)
        }
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => true,
        _ => false,
    }
}

fn refusal(message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        READ_ONLY_SQLSTATE.to_string(),
        message,
    )))
}

/// First in the hook list, so nothing that writes reaches DataFusion (which would happily
/// create in-memory tables or insert into Delta tables).
struct ReadOnlyHook;

#[async_trait]
impl QueryHook for ReadOnlyHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        write_refusal(statement).map(|m| Err(refusal(m)))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        write_refusal(statement).map(|m| Err(refusal(m)))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        write_refusal(statement).map(|m| Err(refusal(m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn refused(sql: &str) -> bool {
        let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses");
        statements.iter().any(|s| write_refusal(s).is_some())
    }

    #[test]
    fn reads_pass_and_writes_are_refused() {
        for sql in [
            "select 1",
            "with a as (select 1) select * from a union all select 2",
            "explain select 1",
            "set datestyle = 'ISO'",
            "show search_path",
            "begin",
            "commit",
            "rollback",
        ] {
            assert!(!refused(sql), "{sql} should pass");
        }
        for sql in [
            "insert into t values (1)",
            "update t set a = 1",
            "delete from t",
            "create table t (a int)",
            "create view v as select 1",
            "drop table t",
            "truncate t",
            "alter table t add column b int",
            "select 1 into t",
            "explain analyze insert into t values (1)",
            "copy t to '/tmp/t.csv'",
        ] {
            assert!(refused(sql), "{sql} should be refused");
        }
    }
}
