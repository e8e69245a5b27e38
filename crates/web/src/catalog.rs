//! The catalog pages, rendered from plain catalog data: the catalog's home, search results, a
//! dataset's page (a metric's page is a dataset page with its definition) and the lineage graph.
//! Pure functions of a [`Catalog`] and a clock, so they are snapshot-tested on the example
//! project with a real store.
//!
//! For browser tests: each search hit is `<li class="hit" data-hit="<id>" data-rank="<n>">` in
//! rank order; each node of the lineage graph is `<g class="node …" data-node="<node id>">`
//! inside a link to its page; the dataset page's root carries `data-dataset` and `data-kind`,
//! the schema's rows `data-column`.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use maud::{Markup, html};
use pulse_catalog::{
    Catalog, ColumnProfile, Dataset, DatasetKind, Details, Freshness, FreshnessStatus,
    LineageGraph, LineageNode, NodeKind, SchemaChange, SearchHit, SearchIndex, SearchQuery,
};
use serde::Serialize;

use crate::dashboards::dashboard_url;
use crate::format;
use crate::params;
use crate::render::{Section, layout, layout_searched, path_segment, run_url};

/// How many hits the results page shows.
pub const PAGE_HITS: usize = 50;

/// Every kind of lineage node, in the order the legend lists them.
pub const NODE_KINDS: [NodeKind; 7] = [
    NodeKind::SourceTable,
    NodeKind::RawLanding,
    NodeKind::Quarantine,
    NodeKind::Model,
    NodeKind::Metric,
    NodeKind::Tile,
    NodeKind::Dashboard,
];

pub fn dataset_url(id: &str) -> String {
    format!("/catalog/datasets/{}", path_segment(id))
}

/// A dataset's page showing the lineage of one of its columns.
pub fn column_url(id: &str, column: &str) -> String {
    format!(
        "{}?column={}#lineage",
        dataset_url(id),
        params::encode(column)
    )
}

pub fn lineage_api_url(id: &str, column: Option<&str>) -> String {
    let mut url = format!("/api/lineage/{}?direction=both", path_segment(id));
    if let Some(c) = column {
        url.push_str("&column=");
        url.push_str(&params::encode(c));
    }
    url
}

/// The results page of a search: text, kinds and tags.
pub fn search_url(text: &str, kinds: &[DatasetKind], tags: &[String]) -> String {
    let mut parts = Vec::new();
    if !text.is_empty() {
        parts.push(format!("q={}", params::encode(text)));
    }
    for k in kinds {
        parts.push(format!("kind={}", k.as_str()));
    }
    for t in tags {
        parts.push(format!("tag={}", params::encode(t)));
    }
    if parts.is_empty() {
        "/catalog/search".to_owned()
    } else {
        format!("/catalog/search?{}", parts.join("&"))
    }
}

/// `source table`, `metric`, …
pub fn kind_label(kind: DatasetKind) -> &'static str {
    match kind {
        DatasetKind::SourceTable => "source table",
        DatasetKind::RawLanding => "raw landing",
        DatasetKind::Quarantine => "quarantine",
        DatasetKind::Model => "model",
        DatasetKind::Metric => "metric",
        DatasetKind::Dashboard => "dashboard",
    }
}

fn kind_plural(kind: DatasetKind) -> &'static str {
    match kind {
        DatasetKind::SourceTable => "Source tables",
        DatasetKind::RawLanding => "Raw landings",
        DatasetKind::Quarantine => "Quarantines",
        DatasetKind::Model => "Models",
        DatasetKind::Metric => "Metrics",
        DatasetKind::Dashboard => "Dashboards",
    }
}

fn node_kind_label(kind: NodeKind) -> &'static str {
    match kind.dataset_kind() {
        Some(k) => kind_label(k),
        None => "dashboard tile",
    }
}

fn kind_badge(kind: DatasetKind) -> Markup {
    html! { span class={"kind-badge k-" (kind.as_str())} data-kind=(kind.as_str()) { (kind_label(kind)) } }
}

/// The first `max` characters of a text, cut at a word, with `…` when cut.
fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    match cut.rfind(' ') {
        Some(i) if i > max / 2 => format!("{}…", cut[..i].trim_end_matches([',', ';', ':'])),
        _ => format!("{cut}…"),
    }
}

fn age(seconds: i64) -> String {
    format::duration(TimeDelta::seconds(seconds))
}

/// A dataset's freshness, or none when it cannot be judged (a schedule whose cron does not
/// parse counts as no schedule).
fn freshness_of(catalog: &Catalog, id: &str, now: DateTime<Utc>) -> Option<Freshness> {
    catalog.freshness(id, now).ok()
}

/// `fresh · 3 h 02 m`, `stale · 2 d 4 h`, `never built`, `no schedule`.
fn freshness_badge(f: Option<&Freshness>) -> Markup {
    let (status, text, title) = match f {
        None => (
            FreshnessStatus::Unknown,
            "unknown".to_owned(),
            "Freshness cannot be judged".to_owned(),
        ),
        Some(f) => match (f.status, f.lag_seconds) {
            (_, None) => (
                f.status,
                "never built".to_owned(),
                "No run has built it yet".to_owned(),
            ),
            (FreshnessStatus::Unknown, Some(lag)) => (
                f.status,
                format!("{} old", age(lag)),
                "No schedule to judge it by".to_owned(),
            ),
            (FreshnessStatus::Fresh, Some(lag)) => (
                f.status,
                format!("fresh · {}", age(lag)),
                format!(
                    "Updated {} ago; its schedule allows {}",
                    age(lag),
                    age(f.max_age_seconds)
                ),
            ),
            (FreshnessStatus::Stale, Some(lag)) => (
                f.status,
                format!("stale · {}", age(lag)),
                format!(
                    "Updated {} ago, {} more than its schedule allows ({})",
                    age(lag),
                    age(f.overdue_seconds),
                    age(f.max_age_seconds)
                ),
            ),
        },
    };
    html! {
        span class={"fresh-badge f-" (status.as_str())} data-freshness=(status.as_str())
            data-lag=[f.and_then(|f| f.lag_seconds)] title=(title) { (text) }
    }
}

fn tag_links(tags: &[String]) -> Markup {
    html! {
        @for t in tags {
            a.tag href=(search_url("", &[], std::slice::from_ref(t))) data-tag=(t) { (t) } " "
        }
    }
}

/// What the last build reported; for a source table, what its last landing did.
fn stats_of<'a>(catalog: &'a Catalog, ds: &'a Dataset) -> Option<&'a pulse_catalog::Stats> {
    ds.stats.as_ref().or_else(|| match ds.kind {
        DatasetKind::SourceTable => catalog
            .dataset(&DatasetKind::RawLanding.id(&ds.id))
            .and_then(|raw| raw.stats.as_ref()),
        _ => None,
    })
}

fn opt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(format::timestamp).unwrap_or_else(|| "—".to_owned())
}

/// A dataset's group on the catalog's home: its kind, and for models their layer.
fn group_of(ds: &Dataset) -> (usize, String) {
    let rank = |k: DatasetKind| DatasetKind::ALL.iter().position(|x| *x == k).unwrap_or(0) * 10;
    match &ds.details {
        Details::Model { layer, .. } => {
            let within = match layer.as_str() {
                "staging" => 0,
                "intermediate" => 1,
                "marts" => 2,
                _ => 3,
            };
            (rank(ds.kind) + within, format!("Models · {layer}"))
        }
        _ => (rank(ds.kind), kind_plural(ds.kind).to_owned()),
    }
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// `GET /catalog`: counts per kind, then every dataset by group with its freshness.
pub fn home_page(project: &str, catalog: &Catalog, now: DateTime<Utc>) -> Markup {
    let mut counts: BTreeMap<DatasetKind, usize> = BTreeMap::new();
    let mut groups: BTreeMap<(usize, String), Vec<&Dataset>> = BTreeMap::new();
    for ds in catalog.datasets() {
        *counts.entry(ds.kind).or_default() += 1;
        groups.entry(group_of(ds)).or_default().push(ds);
    }
    let body = html! {
        h1 { "Catalog" }
        p.lead {
            "Every dataset and metric of " (project) ": what it means, who owns it, how fresh it is, \
             where it comes from and where it is used. Search from the box at the top of every page."
        }
        ul.kind-counts #kind-counts {
            @for kind in DatasetKind::ALL {
                @let n = counts.get(&kind).copied().unwrap_or(0);
                li data-kind=(kind.as_str()) data-count=(n) {
                    a href=(search_url("", &[kind], &[])) {
                        span.n { (n) }
                        span class={"kind-badge k-" (kind.as_str())} { (kind_plural(kind)) }
                    }
                }
            }
        }
        @if !catalog.warnings().is_empty() {
            details.catalog-warnings #catalog-warnings {
                summary { (catalog.warnings().len()) " warnings from the catalog store" }
                ul { @for w in catalog.warnings() { li { (w) } } }
            }
        }
        nav.group-index {
            @for ((_, label), list) in &groups {
                a href={"#group-" (slug(label))} { (label) " (" (list.len()) ")" }
            }
        }
        @for ((_, label), list) in &groups {
            section.catalog-group id={"group-" (slug(label))} {
                h2 { (label) " " span.count { "(" (list.len()) ")" } }
                div.table-scroll {
                    table.catalog-list {
                        thead { tr {
                            th { "Name" } th { "Description" } th { "Owner" }
                            th.num { "Rows" } th { "Last updated" } th { "Freshness" }
                        } }
                        tbody {
                            @for ds in list {
                                @let fresh = freshness_of(catalog, &ds.id, now);
                                tr data-dataset=(ds.id) {
                                    td.name {
                                        a href=(dataset_url(&ds.id)) { (ds.title()) }
                                        @if ds.title() != ds.name { " " code { (ds.name) } }
                                    }
                                    td.desc { (ds.description.as_deref().map(|d| short(d, 140)).unwrap_or_default()) }
                                    td.owner { (ds.owner.as_deref().unwrap_or("—")) }
                                    td.num { (stats_of(catalog, ds).map(|s| format::count(s.row_count)).unwrap_or_else(|| "—".to_owned())) }
                                    td.when { (opt_time(catalog.last_updated(&ds.id))) }
                                    td { (freshness_badge(fresh.as_ref())) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(project, Section::Catalog, "Catalog", false, body)
}

/// What a search found: the hits to show, how many matched, and the facets to narrow it.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub query: SearchQuery,
    /// Datasets matching every filter.
    pub total: usize,
    /// The best of them, best first.
    pub hits: Vec<SearchHit>,
    /// Per kind, how many match the text and the tags (whatever kinds are chosen).
    pub kinds: BTreeMap<DatasetKind, usize>,
    /// Per tag, how many match the text and the kinds (whatever tags are chosen), most first.
    pub tags: Vec<(String, usize)>,
}

/// Runs a search and the counts its filters show.
pub fn search(
    catalog: &Catalog,
    index: &SearchIndex,
    query: &SearchQuery,
) -> pulse_catalog::Result<SearchResults> {
    let everything = index.len().max(1);
    let limit = query.limit.unwrap_or(PAGE_HITS);
    let all = |q: SearchQuery| index.search(&q.limit(everything));
    let matched = all(query.clone())?;
    let by_kind = if query.kinds.is_empty() {
        matched.clone()
    } else {
        all(SearchQuery {
            kinds: Vec::new(),
            ..query.clone()
        })?
    };
    let by_tag = if query.tags.is_empty() {
        matched.clone()
    } else {
        all(SearchQuery {
            tags: Vec::new(),
            ..query.clone()
        })?
    };
    let mut kinds = BTreeMap::new();
    for h in &by_kind {
        *kinds.entry(h.kind).or_default() += 1;
    }
    let mut tag_counts: BTreeMap<String, usize> = BTreeMap::new();
    for h in &by_tag {
        if let Some(ds) = catalog.dataset(&h.id) {
            for t in &ds.tags {
                *tag_counts.entry(t.to_lowercase()).or_default() += 1;
            }
        }
    }
    let mut tags: Vec<(String, usize)> = tag_counts.into_iter().collect();
    tags.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total = matched.len();
    let mut hits = matched;
    hits.truncate(limit);
    Ok(SearchResults {
        query: query.clone(),
        total,
        hits,
        kinds,
        tags,
    })
}

/// The snippet with its matched words in `<mark>`; ranges that do not fall on characters are
/// dropped rather than trusted.
fn highlighted(snippet: &str, ranges: &[(usize, usize)]) -> Markup {
    let mut ranges: Vec<(usize, usize)> = ranges
        .iter()
        .copied()
        .filter(|&(a, b)| a < b && snippet.get(a..b).is_some())
        .collect();
    ranges.sort_unstable();
    let mut pieces: Vec<(bool, &str)> = Vec::new();
    let mut at = 0;
    for (a, b) in ranges {
        if a < at {
            continue;
        }
        if let Some(before) = snippet.get(at..a) {
            pieces.push((false, before));
        }
        if let Some(word) = snippet.get(a..b) {
            pieces.push((true, word));
        }
        at = b;
    }
    if let Some(rest) = snippet.get(at..) {
        pieces.push((false, rest));
    }
    html! {
        @for (matched, text) in pieces {
            @if matched { mark { (text) } } @else { (text) }
        }
    }
}

/// Chooses or drops one value in a list of filters.
fn toggled<T: PartialEq + Clone>(list: &[T], value: &T) -> Vec<T> {
    if list.contains(value) {
        list.iter().filter(|v| *v != value).cloned().collect()
    } else {
        let mut out = list.to_vec();
        out.push(value.clone());
        out
    }
}

/// How many tags the tag filter offers at most (chosen ones always show).
const TAG_FACETS: usize = 20;

/// `GET /catalog/search`: the form, filters by kind and tag (links that toggle them), and the
/// ranked hits.
pub fn search_page(project: &str, catalog: &Catalog, r: &SearchResults) -> Markup {
    let q = &r.query;
    let text = q.text.trim();
    let chosen_tags: Vec<String> = q.tags.iter().map(|t| t.to_lowercase()).collect();
    let tag_facets: Vec<&(String, usize)> = r
        .tags
        .iter()
        .enumerate()
        .filter(|(i, (t, _))| *i < TAG_FACETS || chosen_tags.contains(t))
        .map(|(_, f)| f)
        .collect();
    let filtered = !q.kinds.is_empty() || !q.tags.is_empty();
    let title = if text.is_empty() {
        "Search".to_owned()
    } else {
        format!("Search: {text}")
    };
    let body = html! {
        p.crumbs { a href="/catalog" { "Catalog" } " › Search" }
        h1 { "Search the catalog" }
        form.catalog-search #catalog-search method="get" action="/catalog/search" role="search" {
            input #catalog-search-q type="search" name="q" value=(text)
                placeholder="delivery time, gmv, customers, pii…" aria-label="Search text";
            @for k in &q.kinds { input type="hidden" name="kind" value=(k.as_str()); }
            @for t in &q.tags { input type="hidden" name="tag" value=(t); }
            button type="submit" { "Search" }
        }
        div.search-layout {
            aside.facets #facets {
                h2 { "Kind" }
                ul.facet-list #kind-facets {
                    @for kind in DatasetKind::ALL {
                        @let n = r.kinds.get(&kind).copied().unwrap_or(0);
                        @let on = q.kinds.contains(&kind);
                        @if n > 0 || on {
                            li {
                                a class={"facet" @if on { " on" }} href=(search_url(text, &toggled(&q.kinds, &kind), &q.tags))
                                    data-facet-kind=(kind.as_str()) aria-pressed=(if on { "true" } else { "false" }) {
                                    span.check aria-hidden="true" { (if on { "☑" } else { "☐" }) }
                                    (kind_plural(kind)) " " span.count { (n) }
                                }
                            }
                        }
                    }
                }
                @if !tag_facets.is_empty() {
                    h2 { "Tag" }
                    ul.facet-list #tag-facets {
                        @for (tag, n) in &tag_facets {
                            @let on = chosen_tags.contains(tag);
                            li {
                                a class={"facet" @if on { " on" }} href=(search_url(text, &q.kinds, &toggled(&chosen_tags, tag)))
                                    data-facet-tag=(tag) aria-pressed=(if on { "true" } else { "false" }) {
                                    span.check aria-hidden="true" { (if on { "☑" } else { "☐" }) }
                                    (tag) " " span.count { (n) }
                                }
                            }
                        }
                    }
                }
                @if filtered {
                    p { a #clear-filters href=(search_url(text, &[], &[])) { "Clear filters" } }
                }
            }
            section.results {
                p.result-count #result-count data-total=(r.total) {
                    @if r.total == 0 {
                        "No matches"
                    } @else if r.hits.len() < r.total {
                        "Best " (r.hits.len()) " of " (r.total) " matches"
                    } @else if r.total == 1 {
                        "1 match"
                    } @else {
                        (r.total) " matches"
                    }
                    @if !text.is_empty() { " for " q { (text) } }
                }
                @if r.hits.is_empty() {
                    div.empty #no-hits {
                        p {
                            "Nothing in the catalog matches"
                            @if !text.is_empty() { " " q { (text) } }
                            @if filtered { " with these filters" }
                            "."
                        }
                        p {
                            "Try fewer or other words, a column name or an owner's e-mail"
                            @if filtered { ", or " a href=(search_url(text, &[], &[])) { "clear the filters" } }
                            "; " a href="/catalog" { "browse the whole catalog" } "."
                        }
                    }
                } @else {
                    ol.hits #hits {
                        @for (i, h) in r.hits.iter().enumerate() {
                            @let ds = catalog.dataset(&h.id);
                            li.hit data-hit=(h.id) data-rank=(i + 1) data-kind=(h.kind.as_str()) {
                                div.hit-head {
                                    (kind_badge(h.kind))
                                    a.hit-title href=(dataset_url(&h.id)) { (h.title) }
                                    @if h.title != h.name { code.hit-name { (h.name) } }
                                }
                                @if !h.snippet.is_empty() {
                                    p.hit-snippet { (highlighted(&h.snippet, &h.highlights)) }
                                }
                                @if let Some(ds) = ds {
                                    p.hit-meta {
                                        @if let Some(o) = &ds.owner { span.owner { (o) } }
                                        @if !ds.tags.is_empty() { span.tags { (tag_links(&ds.tags)) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout_searched(project, Section::Catalog, &title, false, text, body)
}

/// What a dataset's page shows.
pub struct DatasetView<'a> {
    pub catalog: &'a Catalog,
    pub dataset: &'a Dataset,
    /// Its schema changes, oldest first.
    pub history: &'a [SchemaChange],
    /// The column whose lineage the graph draws (`?column=`); none for the whole dataset.
    pub column: Option<&'a str>,
    /// How many hops up and down the graph reaches (`?depth=`); none for all of them.
    pub depth: Option<usize>,
    pub now: DateTime<Utc>,
}

/// The depths the lineage graph offers besides all of it.
pub const DEPTHS: [usize; 3] = [1, 2, 3];

/// The lineage a dataset's page draws: both directions up to `depth` hops (all without one),
/// dashboard tiles folded into their dashboards except around a metric or a dashboard, where
/// the tiles are the point.
pub fn page_lineage(
    catalog: &Catalog,
    ds: &Dataset,
    column: Option<&str>,
    depth: Option<usize>,
) -> pulse_catalog::Result<LineageGraph> {
    let mut graph = catalog.neighbourhood(&ds.id, column)?;
    if let Some(depth) = depth {
        graph.nodes.retain(|n| n.distance <= depth);
        let kept: std::collections::BTreeSet<String> =
            graph.nodes.iter().map(|n| n.id.clone()).collect();
        graph
            .edges
            .retain(|e| kept.contains(&e.from) && kept.contains(&e.to));
    }
    Ok(match ds.kind {
        DatasetKind::Metric | DatasetKind::Dashboard => graph,
        _ => graph.collapse(NodeKind::Tile),
    })
}

/// `GET /catalog/datasets/{id}`.
pub fn dataset_page(project: &str, v: &DatasetView<'_>) -> Markup {
    let ds = v.dataset;
    let fresh = freshness_of(v.catalog, &ds.id, v.now);
    let (_, group) = group_of(ds);
    let body = html! {
        p.crumbs {
            a href="/catalog" { "Catalog" } " › "
            a href={"/catalog#group-" (slug(&group))} { (group) } " › " (ds.name)
        }
        div.dataset-head #dataset data-dataset=(ds.id) data-kind=(ds.kind.as_str()) {
            h1 {
                span.ds-title { (ds.title()) }
                (kind_badge(ds.kind))
                (freshness_badge(fresh.as_ref()))
            }
            @match &ds.description {
                Some(d) => p.ds-desc #description { (d) },
                None => p.ds-desc.empty #description { "No description yet: add one in " (file_line(ds)) "." },
            }
        }
        (facts(v.catalog, ds))
        @if let Details::Metric(_) = &ds.details { (metric_definition(v.catalog, ds)) }
        @if let Details::Dashboard { tiles, .. } = &ds.details { (dashboard_tiles(ds, tiles)) }
        (stats(v.catalog, ds, fresh.as_ref(), v.now))
        (schema(ds))
        @if !matches!(ds.kind, DatasetKind::Metric | DatasetKind::Dashboard) { (quality(ds)) }
        (usage(v.catalog, ds))
        @if !matches!(ds.kind, DatasetKind::Metric | DatasetKind::Dashboard) { (schema_history(v.history)) }
        (lineage_section(v.catalog, ds, v.column, v.depth))
    };
    layout(project, Section::Catalog, ds.title(), false, body)
}

fn file_line(ds: &Dataset) -> String {
    match (&ds.file, ds.line) {
        (Some(f), Some(l)) => format!("{}:{l}", f.to_string_lossy().replace('\\', "/")),
        (Some(f), None) => f.to_string_lossy().replace('\\', "/"),
        _ => "the project files".to_owned(),
    }
}

fn link_to(catalog: &Catalog, id: &str) -> Markup {
    match catalog.dataset(id) {
        Some(d) => html! { a href=(dataset_url(&d.id)) data-link=(d.id) { (d.title()) } },
        None => html! { code { (id) } },
    }
}

fn codes(list: &[String]) -> Markup {
    html! {
        @for (i, c) in list.iter().enumerate() {
            @if i > 0 { ", " }
            code { (c) }
        }
    }
}

fn facts(catalog: &Catalog, ds: &Dataset) -> Markup {
    html! {
        dl.facts #dataset-facts {
            dt { "Id" } dd { code { (ds.id) } }
            @if ds.title() != ds.name { dt { "Name" } dd { code { (ds.name) } } }
            dt { "Kind" } dd { (kind_label(ds.kind)) }
            dt { "Owner" } dd #owner { (ds.owner.as_deref().unwrap_or("nobody yet")) }
            @if !ds.tags.is_empty() { dt { "Tags" } dd #tags { (tag_links(&ds.tags)) } }
            dt { "Defined in" } dd { code #defined-in { (file_line(ds)) } }
            @match &ds.details {
                Details::SourceTable { source, connector, primary_key, cursor, path, file_column, .. } => {
                    dt { "Source" } dd { code { (source) } " (" (connector) ")" }
                    @if !primary_key.is_empty() { dt { "Primary key" } dd { (codes(primary_key)) } }
                    @if let Some(c) = cursor { dt { "Cursor" } dd { code { (c) } } }
                    @if let Some(p) = path { dt { "Files" } dd { code { (p) } } }
                    @if let Some(c) = file_column { dt { "File column" } dd { code { (c) } } }
                    dt { "Lands in" } dd { (link_to(catalog, &DatasetKind::RawLanding.id(&ds.id))) }
                }
                Details::RawLanding { source_table, path } => {
                    dt { "Source table" } dd { (link_to(catalog, source_table)) }
                    dt { "Lake folder" } dd { code { (path) } }
                }
                Details::Quarantine { of, table } => {
                    dt { "Rows set aside from" } dd { (link_to(catalog, of)) }
                    dt { "Warehouse table" } dd { code { (table) } }
                }
                Details::Model { layer, materialized, sql_file, unique_key, partition_by, .. } => {
                    dt { "Layer" } dd { (layer) }
                    dt { "Materialized" } dd { (materialized) }
                    dt { "SQL" } dd { code { (sql_file) } }
                    @if !unique_key.is_empty() { dt { "Unique key" } dd { (codes(unique_key)) } }
                    @if let Some(p) = partition_by { dt { "Partitioned by" } dd { code { (p) } } }
                }
                Details::Metric(_) => {}
                Details::Dashboard { .. } => {
                    dt { "Dashboard" } dd { a #open-dashboard href=(dashboard_url(&ds.name)) { "Open " (ds.title()) } }
                }
            }
            @if let Some(s) = &ds.schedule { dt { "Schedule" } dd { code { (s) } } }
        }
    }
}

/// A metric's one definition: what it measures, on what, how it is cut, the SQL it compiles to
/// and the dashboards that show it.
fn metric_definition(catalog: &Catalog, ds: &Dataset) -> Markup {
    let Some(m) = ds.metric() else {
        return html! {};
    };
    let shown_on = catalog.dashboards_showing(&ds.id).unwrap_or_default();
    let format_text = match &m.unit {
        Some(u) => format!("{} ({u})", m.format),
        None => m.format.clone(),
    };
    html! {
        section.metric-definition #metric-definition data-metric=(ds.name) {
            h2 { "Definition" }
            dl.facts {
                dt { "Label" } dd #metric-label { (m.label) }
                dt { "Measure" } dd #metric-measure {
                    (m.measure)
                    @if let Some(p) = m.percentile { " (p" (format::fixed(p * 100.0, 0)) ")" }
                    @if let Some(e) = &m.expr { " of " code #metric-expr { (e) } }
                }
                @if let Some(model) = &m.model { dt { "Model" } dd #metric-model { (link_to(catalog, model)) } }
                @if let Some(t) = &m.time_column { dt { "Time column" } dd { code #metric-time { (t) } } }
                @if let Some(f) = &m.filter { dt { "Filter" } dd { code #metric-filter { (f) } } }
                @if !m.components.is_empty() {
                    dt { "Combines" } dd #metric-components {
                        @for (i, c) in m.components.iter().enumerate() {
                            @if i > 0 { ", " }
                            (link_to(catalog, &DatasetKind::Metric.id(c)))
                        }
                    }
                }
                @if let Some(e) = &m.expression { dt { "Expression" } dd { code { (e) } } }
                dt { "Dimensions" } dd #metric-dimensions {
                    @if m.dimensions.is_empty() { "none: it cannot be cut" } @else { (codes(&m.dimensions)) }
                }
                dt { "Format" } dd #metric-format { (format_text) }
            }
            h3 { "SQL it compiles to" }
            @match &m.sql {
                Some(sql) => pre.sql #metric-sql { code { (sql) } },
                None => p.empty #metric-sql { "The semantic layer could not compile this metric." },
            }
            h3 { "Shown on" }
            @if shown_on.is_empty() {
                p.empty #shown-on { "No dashboard shows this metric." }
            } @else {
                ul.links #shown-on {
                    @for d in &shown_on {
                        @let title = catalog.dataset(&DatasetKind::Dashboard.id(d)).map(|x| x.title().to_owned()).unwrap_or_else(|| d.clone());
                        li data-dashboard=(d) {
                            a href=(dashboard_url(d)) { (title) }
                            " · " a.secondary href=(dataset_url(&DatasetKind::Dashboard.id(d))) { "in the catalog" }
                        }
                    }
                }
            }
        }
    }
}

fn dashboard_tiles(ds: &Dataset, tiles: &[pulse_catalog::TileSummary]) -> Markup {
    html! {
        section #dashboard-tiles {
            h2 { "Tiles" }
            div.table-scroll {
                table.catalog-list {
                    thead { tr { th { "Tile" } th { "Kind" } th { "Metrics" } } }
                    tbody {
                        @for t in tiles {
                            tr data-tile=(t.id) {
                                td { a href=(dashboard_url(&ds.name)) { (t.title) } }
                                td { (t.kind) }
                                td {
                                    @for (i, m) in t.metrics.iter().enumerate() {
                                        @if i > 0 { ", " }
                                        a href=(dataset_url(&DatasetKind::Metric.id(m))) { (m) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn stats(catalog: &Catalog, ds: &Dataset, fresh: Option<&Freshness>, now: DateTime<Utc>) -> Markup {
    let last = catalog.last_updated(&ds.id);
    html! {
        section #stats {
            h2 { "Stats and freshness" }
            dl.facts {
                @if let Some(s) = stats_of(catalog, ds) {
                    @if ds.stats.is_none() { dt { "As landed" } dd { "by its last landing" } }
                    dt { "Rows" } dd #rows data-rows=(s.row_count) { (format::count(s.row_count)) }
                    dt { "Size" } dd #size data-bytes=(s.size_bytes) { (format::bytes(s.size_bytes)) }
                    dt { "Last run" } dd { a #last-run href=(run_url(&s.last_run_id)) { code { (s.last_run_id) } } }
                } @else if matches!(ds.kind, DatasetKind::Metric | DatasetKind::Dashboard) {
                    dt { "Computed" } dd { "on request, from the datasets it reads" }
                } @else {
                    dt { "Rows" } dd #rows { "no run has built it yet" }
                }
                dt { "Last updated" } dd #last-updated {
                    (opt_time(last))
                    @if let Some(t) = last { " (" (age((now - t).num_seconds().max(0))) " ago)" }
                }
                dt { "Freshness" } dd { (freshness_badge(fresh)) }
                @if let Some(f) = fresh && f.max_age_seconds > 0 {
                    dt { "Allowed age" } dd { (age(f.max_age_seconds)) " (schedule interval plus SLA)" }
                    @if f.overdue_seconds > 0 { dt { "Overdue by" } dd.overdue { (age(f.overdue_seconds)) } }
                }
            }
        }
    }
}

fn profile_of<'a>(ds: &'a Dataset, column: &str) -> Option<&'a ColumnProfile> {
    ds.profile
        .as_ref()
        .and_then(|p| p.columns.iter().find(|c| c.column == column))
}

fn schema(ds: &Dataset) -> Markup {
    let profiled = ds.profile.is_some();
    // A metric's columns are its value and dimensions, typed only when queried.
    let typed = !matches!(ds.kind, DatasetKind::Metric | DatasetKind::Dashboard);
    html! {
        section #schema {
            h2 { (if typed { "Schema" } else { "Value and dimensions" }) }
            @if let Some(p) = &ds.profile {
                p.note { "Profile of " (format::count(p.rows)) " rows from run " a href=(run_url(&p.run_id)) { code { (p.run_id) } } " at " (format::timestamp(p.at)) "." }
            }
            @if ds.columns.is_empty() {
                p.empty { "No columns known yet: none are documented and no run has recorded a schema." }
            } @else {
                div.table-scroll {
                    table.catalog-list.schema #schema-table {
                        thead { tr {
                            th { "Column" } @if typed { th { "Type" } } th { "Description" }
                            @if profiled {
                                th.num { "Nulls" } th.num { "Distinct" } th { "Min" } th { "Max" } th { "Top values" }
                            }
                        } }
                        tbody {
                            @for c in &ds.columns {
                                @let p = profile_of(ds, &c.name);
                                tr data-column=(c.name) {
                                    td.name {
                                        a href=(column_url(&ds.id, &c.name)) title="Show this column's lineage" { code { (c.name) } }
                                        @for t in &c.tags { " " span.tag.col-tag { (t) } }
                                    }
                                    @if typed {
                                        td { code { (c.data_type.as_deref().unwrap_or("—")) } @if c.nullable == Some(false) { " " span.muted { "not null" } } }
                                    }
                                    td.desc { (c.description.as_deref().unwrap_or("")) }
                                    @if profiled {
                                        @match p {
                                            Some(p) => {
                                                td.num { (format::fixed(p.null_share * 100.0, 1)) "%" }
                                                td.num { (format::count(p.distinct_count)) }
                                                td { (p.min.as_deref().unwrap_or("—")) }
                                                td { (p.max.as_deref().unwrap_or("—")) }
                                                td.top {
                                                    @if p.top_values.is_empty() { "—" }
                                                    @for (i, t) in p.top_values.iter().take(5).enumerate() {
                                                        @if i > 0 { ", " }
                                                        span.top-value { (t.value) } " " span.muted { "(" (format::count(t.count)) ")" }
                                                    }
                                                }
                                            }
                                            None => { td.num { "—" } td.num { "—" } td { "—" } td { "—" } td { "—" } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn expectations(ds: &Dataset) -> &[String] {
    match &ds.details {
        Details::SourceTable { expectations, .. } | Details::Model { expectations, .. } => {
            expectations
        }
        _ => &[],
    }
}

fn quality(ds: &Dataset) -> Markup {
    let checks = expectations(ds);
    html! {
        section #quality {
            h2 { "Quality" }
            @match &ds.quality {
                None => p.empty #quality-summary { "No validation recorded yet." },
                Some(q) => {
                    @let (class, label) = match (q.ok(), q.failed) {
                        (true, 0) => ("s-succeeded", "passed"),
                        (true, _) => ("s-up_for_retry", "warnings"),
                        (false, _) => ("s-failed", "failed"),
                    };
                    p #quality-summary data-ok=(q.ok()) data-passed=(q.passed) data-failed=(q.failed) {
                        span class={"badge " (class)} { (label) }
                        " " (q.passed) " passed, " (q.failed) " failed"
                        @if q.quarantined_rows > 0 { ", " (format::count(q.quarantined_rows)) " rows quarantined" }
                        " · run " a href=(run_url(&q.run_id)) { code { (q.run_id) } } " at " (format::timestamp(q.at))
                    }
                    @if !q.failures.is_empty() {
                        table.catalog-list #quality-failures {
                            thead { tr { th { "Expectation" } th { "Severity" } th.num { "Unexpected rows" } } }
                            tbody {
                                @for f in &q.failures {
                                    tr data-severity=(f.severity) {
                                        td { code { (f.expectation) } }
                                        td { (f.severity) }
                                        td.num { (f.unexpected_count.map(format::count).unwrap_or_else(|| "—".to_owned())) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !checks.is_empty() {
                details.expectations {
                    summary { (checks.len()) " expectations checked" }
                    ul { @for e in checks { li { code { (e) } } } }
                }
            }
        }
    }
}

fn usage(catalog: &Catalog, ds: &Dataset) -> Markup {
    let u = &ds.used_by;
    html! {
        section #used-by {
            h2 { "Used by" }
            @if u.is_empty() {
                p.empty { "Nothing in the project reads it." }
            } @else {
                dl.facts {
                    @if !u.models.is_empty() {
                        dt { "Models" } dd #used-by-models {
                            @for (i, m) in u.models.iter().enumerate() { @if i > 0 { ", " } (link_to(catalog, m)) }
                        }
                    }
                    @if !u.metrics.is_empty() {
                        dt { "Metrics" } dd #used-by-metrics {
                            @for (i, m) in u.metrics.iter().enumerate() { @if i > 0 { ", " } (link_to(catalog, &DatasetKind::Metric.id(m))) }
                        }
                    }
                    @if !u.tiles.is_empty() {
                        dt { "Dashboard tiles" } dd #used-by-tiles {
                            ul.links {
                                @for t in &u.tiles {
                                    @let dash = catalog.dataset(&DatasetKind::Dashboard.id(&t.dashboard)).map(|d| d.title().to_owned()).unwrap_or_else(|| t.dashboard.clone());
                                    li data-tile=(t.node_id()) { a href=(dashboard_url(&t.dashboard)) { (dash) " › " (t.title) } }
                                }
                            }
                        }
                    }
                }
            }
            @if !ds.upstream.is_empty() {
                h3 { "Reads" }
                ul.links #upstream {
                    @for up in &ds.upstream { li { (link_to(catalog, up)) } }
                }
            }
        }
    }
}

fn schema_history(history: &[SchemaChange]) -> Markup {
    html! {
        section #schema-history {
            h2 { "Schema history" }
            @if history.is_empty() {
                p.empty { "No schema recorded yet." }
            } @else {
                ol.schema-changes reversed {
                    @for (i, c) in history.iter().enumerate().rev() {
                        li data-run=(c.run_id) {
                            span.when { (format::timestamp(c.at)) } " · run " a href=(run_url(&c.run_id)) { code { (c.run_id) } } ": "
                            @if i == 0 {
                                "first schema, " (c.columns.len()) " columns"
                            } @else {
                                @for (j, a) in c.added.iter().enumerate() {
                                    @if j > 0 { ", " }
                                    span.added { "+ " code { (a.name) } }
                                }
                                @if !c.added.is_empty() && (!c.removed.is_empty() || !c.retyped.is_empty()) { "; " }
                                @for (j, r) in c.removed.iter().enumerate() {
                                    @if j > 0 { ", " }
                                    span.removed { "− " code { (r.name) } }
                                }
                                @if !c.removed.is_empty() && !c.retyped.is_empty() { "; " }
                                @for (j, r) in c.retyped.iter().enumerate() {
                                    @if j > 0 { ", " }
                                    span.retyped {
                                        code { (r.column) } " " (r.from.as_deref().unwrap_or("?")) " → " (r.to.as_deref().unwrap_or("?"))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn lineage_section(
    catalog: &Catalog,
    ds: &Dataset,
    column: Option<&str>,
    depth: Option<usize>,
) -> Markup {
    let graph = page_lineage(catalog, ds, column, depth);
    let (graph, problem) = match (graph, column) {
        (Ok(g), _) => (Some(g), None),
        // An unknown column: say so and draw the dataset's lineage instead.
        (Err(e), Some(_)) => (
            page_lineage(catalog, ds, None, depth).ok(),
            Some(e.to_string()),
        ),
        (Err(e), None) => (None, Some(e.to_string())),
    };
    let column = column.filter(|_| problem.is_none());
    html! {
        section.lineage #lineage {
            h2 {
                "Lineage"
                @if let Some(c) = column { " of column " code { (c) } }
            }
            form.column-select #column-select method="get" action={(dataset_url(&ds.id)) "#lineage"} data-autosubmit {
                label for="lineage-column" { "Column" }
                select #lineage-column name="column" {
                    option value="" selected[column.is_none()] { "— the whole dataset —" }
                    @for c in &ds.columns {
                        option value=(c.name) selected[column == Some(c.name.as_str())] { (c.name) }
                    }
                }
                label for="lineage-depth" { "Hops" }
                select #lineage-depth name="depth" {
                    option value="" selected[depth.is_none()] { "all" }
                    @for d in DEPTHS {
                        option value=(d) selected[depth == Some(d)] { (d) }
                    }
                }
                button type="submit" { "Show" }
                " "
                a.secondary #lineage-json href=(lineage_api_url(&ds.id, column)) { "as JSON" }
            }
            @if let Some(p) = &problem { p.notice.warn #lineage-problem role="status" { (p) } }
            @if let Some(g) = &graph {
                @if g.nodes.len() <= 1 {
                    p.empty { "Nothing feeds it and nothing reads it." }
                } @else {
                    (lineage_svg(g, ds.title()))
                    (lineage_legend(g))
                }
            }
        }
    }
}

fn px(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// Where a lineage node links: a dataset's page (at the column, for column nodes), a tile's
/// dashboard.
fn node_url(n: &LineageNode) -> String {
    if n.kind == NodeKind::Tile {
        let dashboard = n
            .dataset
            .strip_prefix("tile:")
            .and_then(|t| t.split_once('/'))
            .map_or(n.dataset.as_str(), |(d, _)| d);
        return dashboard_url(dashboard);
    }
    match &n.column {
        Some(c) => column_url(&n.dataset, c),
        None => dataset_url(&n.dataset),
    }
}

/// The label a node box has room for.
fn box_label(label: &str) -> String {
    let mut s: String = label.chars().take(30).collect();
    if label.chars().count() > 30 {
        s.push('…');
    }
    s
}

/// The lineage graph drawn from the catalog's layered layout: a link per node to its page,
/// edges dashed where a column is only read to filter, join or group.
pub fn lineage_svg(graph: &LineageGraph, about: &str) -> Markup {
    let layout = graph.layout();
    let by_id: BTreeMap<&str, &LineageNode> =
        graph.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    html! {
        div.lineage-scroll {
            svg.lineage-graph #lineage-graph width=(px(layout.width)) height=(px(layout.height))
                viewBox={"0 0 " (px(layout.width)) " " (px(layout.height))}
                role="img" aria-label={"Lineage of " (about)}
                data-start=(graph.start) data-column-level=(graph.column_level) {
                defs {
                    marker #lineage-arrow viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse" {
                        path d="M 0 0 L 10 5 L 0 10 z" {}
                    }
                }
                @for e in &layout.edges {
                    path class={"edge" @if e.indirect { " indirect" }} data-from=(e.from) data-to=(e.to)
                        d=(e.svg_path()) marker-end="url(#lineage-arrow)" {}
                }
                @for n in &layout.nodes {
                    @let node = by_id.get(n.id.as_str());
                    a href=(node.map(|x| node_url(x)).unwrap_or_default()) {
                        g class={"node k-" (n.kind.as_str()) @if n.start { " start" }} data-node=(n.id) data-kind=(n.kind.as_str()) {
                            title { (n.label) " (" (node_kind_label(n.kind)) ")" }
                            rect x=(px(n.x)) y=(px(n.y)) width=(px(n.width)) height=(px(n.height)) rx="6" {}
                            text x=(px(n.x + 8.0)) y=(px(n.y + n.height / 2.0 + 4.0)) { (box_label(&n.label)) }
                        }
                    }
                }
            }
        }
    }
}

fn lineage_legend(graph: &LineageGraph) -> Markup {
    html! {
        ul.lineage-legend {
            @for k in NODE_KINDS {
                @if graph.nodes.iter().any(|n| n.kind == k) {
                    li { span class={"sw-kind k-" (k.as_str())} {} (node_kind_label(k)) }
                }
            }
            @if graph.edges.iter().any(|e| e.indirect) {
                li { span.sw-indirect {} "read to filter, join or group" }
            }
        }
    }
}

/// What `/catalog` says when the server has no catalog.
pub fn no_catalog_page(project: &str) -> Markup {
    let body = html! {
        h1 { "Catalog" }
        p.empty #no-catalog {
            "No catalog is configured on this server. `pulse serve` keeps one when the project \
             has a warehouse; runs fill it as they build."
        }
    };
    layout(project, Section::Catalog, "Catalog", false, body)
}
