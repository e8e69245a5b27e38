//! Column-level lineage read off a model's logical plan: for each output column, the columns of
//! the tables it scans (models, views, `source.table`) that compute it, and those that only
//! filter, join or group it ("indirect", as OpenLineage calls them).
//!
//! The plan is made against stand-ins of the engine's tables (same names and schemas, no data,
//! no view definitions): DataFusion's planner would otherwise inline a view, and a mart's
//! columns would lead straight past the staging views to the landed tables. With stand-ins each
//! model's lineage is one hop (a mart's columns come from the staging view's columns, the view's
//! from `source.table`), and the catalog chains the hops.

use crate::error::Result;
use crate::session::Engine;
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
    MemorySchemaProvider, SchemaProvider,
};
use datafusion::common::{Column, DFSchemaRef};
use datafusion::datasource::empty::EmptyTable;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan};
use datafusion::prelude::SessionContext;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A base column: (table as SQL names it, column).
pub type BaseColumn = (String, String);

/// Per output column: the base columns it is computed from, and those that decide which rows
/// it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnSources {
    pub direct: BTreeSet<BaseColumn>,
    pub indirect: BTreeSet<BaseColumn>,
}

impl ColumnSources {
    fn merge(&mut self, other: &ColumnSources) {
        self.direct.extend(other.direct.iter().cloned());
        self.indirect.extend(other.indirect.iter().cloned());
    }
}

impl Engine {
    /// The lineage of every output column of a query (a model's rendered SQL), by name.
    pub async fn column_lineage(&self, sql: &str) -> Result<BTreeMap<String, ColumnSources>> {
        let plan = self
            .opaque_tables()
            .await?
            .state()
            .create_logical_plan(sql)
            .await?;
        let per_field = lineage(&plan);
        let mut out = BTreeMap::new();
        for (field, sources) in plan.schema().fields().iter().zip(per_field) {
            out.entry(field.name().clone())
                .or_insert_with(ColumnSources::default)
                .merge(&sources);
        }
        Ok(out)
    }
}

impl Engine {
    /// A session with the engine's functions and settings whose tables are empty stand-ins of
    /// the engine's tables and views, so planning stops at each of them.
    async fn opaque_tables(&self) -> Result<SessionContext> {
        let state = self.ctx.state();
        let catalogs = Arc::new(MemoryCatalogProviderList::new());
        for catalog_name in state.catalog_list().catalog_names() {
            let Some(catalog) = state.catalog_list().catalog(&catalog_name) else {
                continue;
            };
            let stand_in = Arc::new(MemoryCatalogProvider::new());
            for schema_name in catalog.schema_names() {
                let Some(schema) = catalog.schema(&schema_name) else {
                    continue;
                };
                let tables = Arc::new(MemorySchemaProvider::new());
                for table in schema.table_names() {
                    if let Some(provider) = schema.table(&table).await? {
                        tables
                            .register_table(table, Arc::new(EmptyTable::new(provider.schema())))?;
                    }
                }
                stand_in.register_schema(&schema_name, tables)?;
            }
            catalogs.register_catalog(catalog_name, stand_in);
        }
        let state = SessionStateBuilder::new_from_existing(state)
            .with_catalog_list(catalogs)
            .build();
        Ok(SessionContext::new_with_state(state))
    }
}

/// Every base column any of `exprs` reads, resolved against `input`'s fields.
fn sources_of(exprs: &[&Expr], schema: &DFSchemaRef, input: &[ColumnSources]) -> ColumnSources {
    let mut out = ColumnSources::default();
    for expr in exprs {
        for col in expr.column_refs() {
            if let Some(s) = resolve(col, schema, input) {
                out.merge(s);
            }
        }
    }
    out
}

fn resolve<'a>(
    col: &Column,
    schema: &DFSchemaRef,
    input: &'a [ColumnSources],
) -> Option<&'a ColumnSources> {
    schema.maybe_index_of_column(col).and_then(|i| input.get(i))
}

/// Everything `sources` reads becomes indirect: it decides rows, not values.
fn as_indirect(sources: &ColumnSources) -> BTreeSet<BaseColumn> {
    sources
        .direct
        .iter()
        .chain(sources.indirect.iter())
        .cloned()
        .collect()
}

/// The lineage of each output field of `plan`, in schema order.
fn lineage(plan: &LogicalPlan) -> Vec<ColumnSources> {
    let fields = plan.schema().fields().len();
    match plan {
        LogicalPlan::TableScan(scan) => {
            let table = scan.table_name.to_string();
            scan.projected_schema
                .fields()
                .iter()
                .map(|f| ColumnSources {
                    direct: BTreeSet::from([(table.clone(), f.name().clone())]),
                    indirect: BTreeSet::new(),
                })
                .collect()
        }
        LogicalPlan::Projection(p) => {
            let input = lineage(&p.input);
            let schema = p.input.schema();
            let rows = common_indirect(&input);
            p.expr
                .iter()
                .map(|e| {
                    let mut s = sources_of(&[e], schema, &input);
                    s.indirect.extend(rows.iter().cloned());
                    s
                })
                .collect()
        }
        LogicalPlan::Filter(f) => {
            let mut input = lineage(&f.input);
            let decided = as_indirect(&sources_of(&[&f.predicate], f.input.schema(), &input));
            for s in &mut input {
                s.indirect.extend(decided.iter().cloned());
            }
            input
        }
        LogicalPlan::Aggregate(a) => {
            let input = lineage(&a.input);
            let schema = a.input.schema();
            let rows = common_indirect(&input);
            let groups: Vec<&Expr> = a.group_expr.iter().collect();
            let grouped_by = as_indirect(&sources_of(&groups, schema, &input));
            let mut out: Vec<ColumnSources> = a
                .group_expr
                .iter()
                .map(|e| {
                    let mut s = sources_of(&[e], schema, &input);
                    s.indirect.extend(rows.iter().cloned());
                    s
                })
                .collect();
            for e in &a.aggr_expr {
                let mut s = sources_of(&[e], schema, &input);
                s.indirect.extend(grouped_by.iter().cloned());
                s.indirect.extend(rows.iter().cloned());
                out.push(s);
            }
            fit(out, fields, &input)
        }
        LogicalPlan::Window(w) => {
            let input = lineage(&w.input);
            let schema = w.input.schema();
            let mut out = input.clone();
            for e in &w.window_expr {
                out.push(sources_of(&[e], schema, &input));
            }
            fit(out, fields, &input)
        }
        LogicalPlan::Join(j) => {
            let left = lineage(&j.left);
            let right = lineage(&j.right);
            let mut keys: Vec<&Expr> = j.on.iter().flat_map(|(l, r)| [l, r]).collect();
            if let Some(f) = &j.filter {
                keys.push(f);
            }
            let both: Vec<ColumnSources> = left.iter().chain(right.iter()).cloned().collect();
            // Join keys and filters name columns of either side.
            let mut decided = BTreeSet::new();
            for k in &keys {
                for col in k.column_refs() {
                    let side = resolve(col, j.left.schema(), &left)
                        .or_else(|| resolve(col, j.right.schema(), &right));
                    if let Some(s) = side {
                        decided.extend(as_indirect(s));
                    }
                }
            }
            let mut out = match j.join_type {
                JoinType::LeftSemi | JoinType::LeftAnti => left,
                JoinType::RightSemi | JoinType::RightAnti => right,
                JoinType::LeftMark => {
                    let mut l = left;
                    l.push(ColumnSources::default());
                    l
                }
                JoinType::RightMark => {
                    let mut r = right;
                    r.push(ColumnSources::default());
                    r
                }
                _ => both,
            };
            for s in &mut out {
                s.indirect.extend(decided.iter().cloned());
            }
            let fallback = out.clone();
            fit(out, fields, &fallback)
        }
        LogicalPlan::Union(u) => {
            let mut out = vec![ColumnSources::default(); fields];
            for input in &u.inputs {
                for (i, s) in lineage(input).iter().enumerate() {
                    if let Some(o) = out.get_mut(i) {
                        o.merge(s);
                    }
                }
            }
            out
        }
        LogicalPlan::Sort(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::Repartition(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Subquery(_)
        | LogicalPlan::Distinct(_) => {
            let inputs = plan.inputs();
            match inputs.first() {
                Some(input) if input.schema().fields().len() == fields => lineage(input),
                _ => by_name(plan),
            }
        }
        LogicalPlan::Values(_) | LogicalPlan::EmptyRelation(_) => {
            vec![ColumnSources::default(); fields]
        }
        _ => by_name(plan),
    }
}

/// For nodes without a position-by-position rule: an output field with an input field of the
/// same name keeps its lineage; any other depends on every input column.
fn by_name(plan: &LogicalPlan) -> Vec<ColumnSources> {
    let mut named: BTreeMap<String, ColumnSources> = BTreeMap::new();
    let mut everything = ColumnSources::default();
    for input in plan.inputs() {
        for (field, s) in input.schema().fields().iter().zip(lineage(input)) {
            everything.merge(&s);
            named.entry(field.name().clone()).or_default().merge(&s);
        }
    }
    plan.schema()
        .fields()
        .iter()
        .map(|f| {
            named
                .get(f.name())
                .cloned()
                .unwrap_or_else(|| everything.clone())
        })
        .collect()
}

/// What decides the rows of every field alike (filters and joins below), carried upwards.
fn common_indirect(input: &[ColumnSources]) -> BTreeSet<BaseColumn> {
    let mut iter = input.iter();
    let Some(first) = iter.next() else {
        return BTreeSet::new();
    };
    iter.fold(first.indirect.clone(), |acc, s| {
        acc.intersection(&s.indirect).cloned().collect()
    })
}

/// Guards against a node whose schema has a different number of fields than the rule built.
fn fit(out: Vec<ColumnSources>, fields: usize, fallback: &[ColumnSources]) -> Vec<ColumnSources> {
    if out.len() == fields {
        return out;
    }
    let mut everything = ColumnSources::default();
    for s in fallback {
        everything.merge(s);
    }
    vec![everything; fields]
}
