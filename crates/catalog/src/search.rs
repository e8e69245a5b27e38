//! Full-text search over the catalog: an in-RAM tantivy index built from a [`Catalog`] in a few
//! milliseconds, so it is simply rebuilt whenever the catalog changes.
//!
//! Every dataset is one document. Its words are stemmed English (`deliveries` finds
//! `delivery`), and names split at `_` and `.` (`fct_orders` is found by "orders"). Ranking is
//! BM25 per field with the name and label weighted above tags and owner, those above the
//! description, and column and definition text lowest; an exact name, label or owner match adds
//! a large bonus, so "gmv" finds the metric `gmv` first. A small prior by kind then orders
//! datasets people should use (metrics, marts, dashboards) before the layers that feed them
//! (staging, source tables, raw landings, quarantines) when the text matches about as well.

use crate::catalog::Catalog;
use crate::error::Result;
use crate::model::{Dataset, DatasetKind, Details};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::collections::HashMap;
use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, DisjunctionMaxQuery, Occur, PhraseQuery, Query, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer, TokenStream,
};
use tantivy::{Index, IndexReader, TantivyDocument, Term};

const ANALYZER: &str = "pulse_en";

/// What to search for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// Free text; empty lists every dataset the filters allow.
    pub text: String,
    /// Only these kinds (none: all).
    #[serde(default)]
    pub kinds: Vec<DatasetKind>,
    /// Only datasets with every one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// At most this many hits (default 20).
    #[serde(default)]
    pub limit: Option<usize>,
}

impl SearchQuery {
    pub fn text(text: &str) -> Self {
        SearchQuery {
            text: text.to_string(),
            ..SearchQuery::default()
        }
    }

    pub fn kind(mut self, kind: DatasetKind) -> Self {
        self.kinds.push(kind);
        self
    }

    pub fn tag(mut self, tag: &str) -> Self {
        self.tags.push(tag.to_string());
        self
    }

    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The dataset's id, for [`Catalog::dataset`].
    pub id: String,
    pub kind: DatasetKind,
    pub name: String,
    /// Label or title, else the name.
    pub title: String,
    pub score: f32,
    /// A piece of the description around the matched words (its start when none matched).
    pub snippet: String,
    /// Byte ranges of the matched words in `snippet`.
    pub highlights: Vec<(usize, usize)>,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    kind: Field,
    tag: Field,
    name: Field,
    name_exact: Field,
    label: Field,
    label_exact: Field,
    column_exact: Field,
    entity_exact: Field,
    description: Field,
    columns: Field,
    tags_text: Field,
    owner: Field,
    owner_exact: Field,
    definition: Field,
    used_in: Field,
}

/// Text fields and their weights.
fn weighted(f: &Fields) -> [(Field, f32); 8] {
    [
        (f.name, 3.0),
        (f.label, 3.0),
        (f.tags_text, 1.5),
        (f.owner, 1.5),
        (f.description, 1.0),
        (f.columns, 0.6),
        (f.definition, 0.6),
        (f.used_in, 0.4),
    ]
}

const EXACT_BONUS: f32 = 12.0;

/// The whole text query, and each word's query alone.
type TextQuery = (Box<dyn Query>, Vec<Box<dyn Query>>);

/// The in-RAM index of a catalog.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    analyzer: TextAnalyzer,
    /// Dataset id -> its kind prior.
    prior: BTreeMap<String, f32>,
    titles: BTreeMap<String, (DatasetKind, String, String)>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("documents", &self.prior.len())
            .finish()
    }
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// How much a kind is preferred when the text matches about as well: what people should use
/// (metrics, marts, dashboards) before the layers that feed it.
fn prior(ds: &Dataset) -> f32 {
    match (&ds.kind, &ds.details) {
        (DatasetKind::Metric, _) => 1.0,
        (DatasetKind::Dashboard, _) => 0.9,
        (DatasetKind::Model, Details::Model { layer, .. }) => match layer.as_str() {
            "staging" => 0.75,
            "intermediate" => 0.8,
            _ => 0.9,
        },
        (DatasetKind::Model, _) => 0.85,
        (DatasetKind::SourceTable, _) => 0.55,
        (DatasetKind::RawLanding | DatasetKind::Quarantine, _) => 0.35,
    }
}

/// A little more for what more models, metrics and tiles use (Amundsen ranks by usage too).
fn popularity(ds: &Dataset) -> f32 {
    let uses = ds.used_by.models.len() + ds.used_by.metrics.len() + ds.used_by.tiles.len();
    1.0 + 0.05 * (1.0 + uses as f32).ln()
}

/// What a table or model is of, by the usual naming: `orders.promo_codes` and
/// `stg_promotions__promo_codes` hold promo codes, `dim_restaurants` restaurants.
fn entity(ds: &Dataset) -> Option<String> {
    let name = ds.name.to_lowercase();
    match ds.kind {
        DatasetKind::SourceTable | DatasetKind::RawLanding => {
            name.rsplit_once('.').map(|(_, t)| t.to_string())
        }
        DatasetKind::Model => {
            let last = name.rsplit_once("__").map_or(name.as_str(), |(_, e)| e);
            let bare = ["stg_", "int_", "fct_", "dim_"]
                .iter()
                .find_map(|p| last.strip_prefix(p))
                .unwrap_or(last);
            (bare != name).then(|| bare.to_string())
        }
        _ => None,
    }
}

fn definition_text(ds: &Dataset) -> String {
    let mut parts: Vec<String> = vec![ds.kind.as_str().replace('_', " ")];
    match &ds.details {
        Details::SourceTable {
            source,
            connector,
            expectations,
            ..
        } => {
            parts.push(format!("source {source} {connector}"));
            parts.extend(expectations.iter().cloned());
        }
        Details::RawLanding { path, .. } => parts.push(format!("raw landing lake {path}")),
        Details::Quarantine { of, table } => parts.push(format!("quarantine of {of} {table}")),
        Details::Model {
            layer,
            materialized,
            expectations,
            ..
        } => {
            parts.push(format!("{layer} {materialized}"));
            parts.extend(expectations.iter().cloned());
        }
        Details::Metric(m) => {
            parts.push(m.measure.replace('_', " "));
            parts.extend(
                [
                    m.model.clone(),
                    m.expr.clone(),
                    m.filter.clone(),
                    m.expression.clone(),
                    m.unit.clone(),
                ]
                .into_iter()
                .flatten(),
            );
            parts.extend(m.components.iter().cloned());
            parts.push(m.format.clone());
        }
        Details::Dashboard { tiles, .. } => {
            parts.extend(tiles.iter().map(|t| t.title.clone()));
        }
    }
    parts.join(" \n ")
}

impl SearchIndex {
    /// Indexes every dataset of the catalog.
    pub fn build(catalog: &Catalog) -> Result<SearchIndex> {
        let mut sb = Schema::builder();
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let fields = Fields {
            id: sb.add_text_field("id", STRING | STORED),
            kind: sb.add_text_field("kind", STRING),
            tag: sb.add_text_field("tag", STRING),
            name: sb.add_text_field("name", text.clone()),
            name_exact: sb.add_text_field("name_exact", STRING),
            label: sb.add_text_field("label", text.clone()),
            label_exact: sb.add_text_field("label_exact", STRING),
            column_exact: sb.add_text_field("column_exact", STRING),
            entity_exact: sb.add_text_field("entity_exact", STRING),
            description: sb.add_text_field("description", text.clone() | STORED),
            columns: sb.add_text_field("columns", text.clone()),
            tags_text: sb.add_text_field("tags_text", text.clone()),
            owner: sb.add_text_field("owner", text.clone()),
            owner_exact: sb.add_text_field("owner_exact", STRING),
            definition: sb.add_text_field("definition", text.clone()),
            used_in: sb.add_text_field("used_in", text),
        };
        let index = Index::create_in_ram(sb.build());
        index.tokenizers().register(ANALYZER, analyzer());
        let mut writer = index.writer_with_num_threads(1, 15_000_000)?;
        let mut priors = BTreeMap::new();
        let mut titles = BTreeMap::new();
        for ds in catalog.datasets() {
            let mut doc = TantivyDocument::default();
            let f = &fields;
            doc.add_text(f.id, &ds.id);
            doc.add_text(f.kind, ds.kind.as_str());
            for t in &ds.tags {
                doc.add_text(f.tag, t.to_lowercase());
                doc.add_text(f.tags_text, t);
            }
            for c in &ds.columns {
                for t in &c.tags {
                    doc.add_text(f.tags_text, t);
                }
            }
            doc.add_text(f.name, &ds.name);
            doc.add_text(f.name_exact, ds.name.to_lowercase());
            if let Some(entity) = entity(ds) {
                doc.add_text(f.entity_exact, entity);
            }
            if let Some(l) = &ds.label {
                doc.add_text(f.label, l);
                doc.add_text(f.label_exact, l.to_lowercase());
            }
            if let Some(d) = &ds.description {
                doc.add_text(f.description, d);
            }
            for c in &ds.columns {
                doc.add_text(f.columns, &c.name);
                doc.add_text(f.column_exact, c.name.to_lowercase());
                if let Some(d) = &c.description {
                    doc.add_text(f.columns, d);
                }
            }
            if let Some(o) = &ds.owner {
                doc.add_text(f.owner, o);
                doc.add_text(f.owner_exact, o.to_lowercase());
            }
            doc.add_text(f.definition, definition_text(ds));
            for t in &ds.used_by.tiles {
                doc.add_text(f.used_in, &t.title);
            }
            writer.add_document(doc)?;
            priors.insert(ds.id.clone(), prior(ds) * popularity(ds));
            titles.insert(
                ds.id.clone(),
                (ds.kind, ds.name.clone(), ds.title().to_string()),
            );
        }
        writer.commit()?;
        let reader = index.reader()?;
        Ok(SearchIndex {
            index,
            reader,
            fields,
            analyzer: analyzer(),
            prior: priors,
            titles,
        })
    }

    fn tokens(&self, text: &str) -> Vec<String> {
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            let t = stream.token().text.clone();
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }

    /// The query of a text: per word, the best field match (others add a little); a bonus for
    /// the words as a phrase in name, label or description, and a large one for an exact name,
    /// label, column, owner or tag. Also each word's query alone, to count matched words.
    fn text_query(&self, text: &str) -> Option<TextQuery> {
        let f = &self.fields;
        let tokens = self.tokens(text);
        if tokens.is_empty() {
            return None;
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut per_token: Vec<Box<dyn Query>> = Vec::new();
        for token in &tokens {
            let per_field: Vec<Box<dyn Query>> = weighted(f)
                .into_iter()
                .map(|(field, boost)| -> Box<dyn Query> {
                    Box::new(BoostQuery::new(
                        Box::new(TermQuery::new(
                            Term::from_field_text(field, token),
                            IndexRecordOption::WithFreqs,
                        )),
                        boost,
                    ))
                })
                .collect();
            let q: Box<dyn Query> = Box::new(DisjunctionMaxQuery::with_tie_breaker(per_field, 0.2));
            per_token.push(q.box_clone());
            clauses.push((Occur::Should, q));
        }
        if tokens.len() > 1 {
            for (field, boost) in [(f.name, 4.0), (f.label, 4.0), (f.description, 2.0)] {
                let terms: Vec<Term> = tokens
                    .iter()
                    .map(|t| Term::from_field_text(field, t))
                    .collect();
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(PhraseQuery::new(terms)), boost)),
                ));
            }
        }
        let normalized = text.trim().to_lowercase();
        let snake = normalized.split_whitespace().collect::<Vec<_>>().join("_");
        let exact = [
            (f.name_exact, snake.clone(), EXACT_BONUS),
            (f.name_exact, normalized.clone(), EXACT_BONUS),
            (f.label_exact, normalized.clone(), EXACT_BONUS),
            (f.owner_exact, normalized.clone(), EXACT_BONUS),
            (f.entity_exact, snake.clone(), EXACT_BONUS * 0.75),
            (f.column_exact, snake, EXACT_BONUS / 2.0),
            (f.tag, normalized, EXACT_BONUS / 4.0),
        ];
        for (field, value, bonus) in exact {
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(
                    Box::new(TermQuery::new(
                        Term::from_field_text(field, &value),
                        IndexRecordOption::Basic,
                    )),
                    bonus,
                )),
            ));
        }
        Some((Box::new(BooleanQuery::new(clauses)), per_token))
    }

    /// The datasets matching a query, best first.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        let f = &self.fields;
        let parsed = self.text_query(&query.text);
        let (text, per_token) = match parsed {
            Some((q, words)) => (Some(q), words),
            None => (None, Vec::new()),
        };
        if text.is_none() && !query.text.trim().is_empty() {
            // Only punctuation: nothing can match.
            return Ok(Vec::new());
        }
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        match &text {
            Some(q) => must.push((Occur::Must, q.box_clone())),
            None => must.push((Occur::Must, Box::new(AllQuery))),
        }
        if !query.kinds.is_empty() {
            let kinds: Vec<(Occur, Box<dyn Query>)> = query
                .kinds
                .iter()
                .map(|k| -> (Occur, Box<dyn Query>) {
                    (
                        Occur::Should,
                        Box::new(TermQuery::new(
                            Term::from_field_text(f.kind, k.as_str()),
                            IndexRecordOption::Basic,
                        )),
                    )
                })
                .collect();
            must.push((Occur::Must, Box::new(BooleanQuery::new(kinds))));
        }
        for tag in &query.tags {
            must.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.tag, &tag.to_lowercase()),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        let full = BooleanQuery::new(must);
        let searcher = self.reader.searcher();
        let all = (searcher.num_docs() as usize).max(1);
        let found = searcher.search(&full, &TopDocs::with_limit(all).order_by_score())?;
        // How many of the words each document matches: all of them count fully, fewer much less
        // (tantivy has no coordination factor of its own).
        let mut matched: HashMap<tantivy::DocAddress, usize> = HashMap::new();
        for q in &per_token {
            let docs: std::collections::HashSet<tantivy::DocAddress> =
                searcher.search(q.as_ref(), &DocSetCollector)?;
            for d in docs {
                *matched.entry(d).or_default() += 1;
            }
        }
        let words = per_token.len().max(1) as f32;
        let mut snippets = match &text {
            Some(q) => Some(SnippetGenerator::create(
                &searcher,
                q.as_ref(),
                f.description,
            )?),
            None => None,
        };
        if let Some(s) = snippets.as_mut() {
            s.set_max_num_chars(160);
        }
        let mut hits = Vec::with_capacity(found.len());
        for (score, address) in found {
            let doc: TantivyDocument = searcher.doc(address)?;
            let Some(id) = doc
                .get_first(f.id)
                .and_then(|v| v.as_str())
                .map(str::to_string)
            else {
                continue;
            };
            let Some((kind, name, title)) = self.titles.get(&id).cloned() else {
                continue;
            };
            let description = doc
                .get_first(f.description)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let (snippet, highlights) = match &snippets {
                Some(generator) => {
                    let s = generator.snippet_from_doc(&doc);
                    if s.highlighted().is_empty() {
                        (start_of(&description), Vec::new())
                    } else {
                        let ranges = s.highlighted().iter().map(|r| (r.start, r.end)).collect();
                        (s.fragment().to_string(), ranges)
                    }
                }
                None => (start_of(&description), Vec::new()),
            };
            let prior = self.prior.get(&id).copied().unwrap_or(1.0);
            let coord = (matched.get(&address).copied().unwrap_or(0) as f32 / words).powi(2);
            hits.push(SearchHit {
                id,
                kind,
                name,
                title,
                score: if text.is_some() {
                    score * prior * coord.max(0.05)
                } else {
                    prior
                },
                snippet,
                highlights,
            });
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        hits.truncate(query.limit.unwrap_or(20));
        Ok(hits)
    }

    /// The index's documents, one per dataset.
    pub fn len(&self) -> usize {
        self.prior.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prior.is_empty()
    }

    /// The tantivy index, for callers that want their own queries.
    pub fn index(&self) -> &Index {
        &self.index
    }
}

/// The first ~160 characters of a description, cut at a word.
fn start_of(description: &str) -> String {
    if description.chars().count() <= 160 {
        return description.to_string();
    }
    let cut: String = description.chars().take(160).collect();
    match cut.rfind(' ') {
        Some(i) => format!("{}…", &cut[..i]),
        None => format!("{cut}…"),
    }
}

impl Catalog {
    /// Builds the search index of the catalog.
    pub fn search_index(&self) -> Result<SearchIndex> {
        SearchIndex::build(self)
    }
}
