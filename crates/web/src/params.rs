//! Query strings of the dashboard pages, the metrics API and the catalog, parsed by hand:
//! filters repeat a key once per value (`f.city=Berlin&f.city=Köln`, `kind=metric&kind=model`),
//! which axum's `Query` cannot gather into a map.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use pulse_catalog::{DatasetKind, Direction, SearchQuery};
use pulse_metrics::{DashboardFilters, MetricRequest};
use pulse_project::Grain;

use crate::WebError;

/// The prefix of a filter parameter: `f.<dimension>`.
pub const FILTER_PREFIX: &str = "f.";

/// The pairs of an `application/x-www-form-urlencoded` string, in order, repeats kept: `+` is
/// a space, `%XX` a byte; bytes that are not UTF-8 become U+FFFD.
pub fn pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if let Some(b) = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Form encoding of one key or value (the inverse of [`pairs`]' decoding).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn date(key: &str, value: &str) -> Result<Option<NaiveDate>, WebError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            WebError::BadRequest(format!("{key} must be a date as YYYY-MM-DD, got {value:?}"))
        })
}

fn push_unique(values: &mut Vec<String>, value: String) {
    if !values.contains(&value) {
        values.push(value);
    }
}

/// A dashboard's filters: `from`, `to` and `f.<dimension>` once per selected value. Empty
/// values mean "not chosen"; other parameters are ignored.
pub fn dashboard_filters(raw: Option<&str>) -> Result<DashboardFilters, WebError> {
    let mut filters = DashboardFilters::default();
    for (key, value) in pairs(raw.unwrap_or("")) {
        match key.as_str() {
            "from" => filters.from = date("from", &value)?,
            "to" => filters.to = date("to", &value)?,
            _ => {
                if let Some(dimension) = key.strip_prefix(FILTER_PREFIX)
                    && !dimension.is_empty()
                    && !value.is_empty()
                {
                    push_unique(
                        filters.values.entry(dimension.to_owned()).or_default(),
                        value,
                    );
                }
            }
        }
    }
    Ok(filters)
}

/// The query string of a dashboard's filters (without `?`), the inverse of
/// [`dashboard_filters`]; empty when nothing is chosen.
pub fn filters_query(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    values: &BTreeMap<String, Vec<String>>,
) -> String {
    let mut parts = Vec::new();
    if let Some(d) = from {
        parts.push(format!("from={}", d.format("%Y-%m-%d")));
    }
    if let Some(d) = to {
        parts.push(format!("to={}", d.format("%Y-%m-%d")));
    }
    for (dimension, selected) in values {
        for v in selected {
            parts.push(format!(
                "{}={}",
                encode(&format!("{FILTER_PREFIX}{dimension}")),
                encode(v)
            ));
        }
    }
    parts.join("&")
}

fn list(into: &mut Vec<String>, value: &str) {
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        push_unique(into, item.to_owned());
    }
}

/// `GET /api/metrics/query`: `metrics` and `by` as comma-separated lists (or repeated), `grain`
/// (day, week, month), `from`, `to`, `compare`, `limit`, and `f.<dimension>` once per value.
/// Unknown parameters are refused, so a typo does not silently drop a filter.
pub fn metric_request(raw: Option<&str>) -> Result<MetricRequest, WebError> {
    let mut req = MetricRequest::default();
    let bad = |m: String| Err(WebError::BadRequest(m));
    for (key, value) in pairs(raw.unwrap_or("")) {
        match key.as_str() {
            "metrics" | "metric" => list(&mut req.metrics, &value),
            "by" | "dimensions" => list(&mut req.dimensions, &value),
            "grain" => {
                req.grain = match value.trim() {
                    "" => None,
                    g => match Grain::parse(g) {
                        Some(g) => Some(g),
                        None => return bad(format!("grain must be day, week or month, got {g:?}")),
                    },
                }
            }
            "from" => req.from = date("from", &value)?,
            "to" => req.to = date("to", &value)?,
            "compare" => {
                req.compare = match value.trim() {
                    "" | "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    v => return bad(format!("compare must be true or false, got {v:?}")),
                }
            }
            "limit" => {
                req.limit = match value.trim() {
                    "" => None,
                    v => match v.parse::<usize>() {
                        Ok(n) if n > 0 => Some(n),
                        _ => return bad(format!("limit must be a positive number, got {v:?}")),
                    },
                }
            }
            _ => match key.strip_prefix(FILTER_PREFIX) {
                Some(dimension) if !dimension.is_empty() => {
                    if !value.is_empty() {
                        push_unique(req.filters.entry(dimension.to_owned()).or_default(), value);
                    }
                }
                _ => {
                    return bad(format!(
                        "unknown query parameter {key:?}; expected metrics, by, grain, from, to, \
                         compare, limit or f.<dimension>"
                    ));
                }
            },
        }
    }
    Ok(req)
}

/// The most hits one search answers.
pub const MAX_SEARCH_LIMIT: usize = 500;

fn kinds_list() -> String {
    DatasetKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `GET /catalog/search` and `/api/catalog/search`: `q` the text, `kind` and `tag` once per
/// value (or comma-separated), `limit`. Other parameters are ignored, so a search form may
/// carry more fields.
pub fn catalog_search(raw: Option<&str>) -> Result<SearchQuery, WebError> {
    let mut q = SearchQuery::default();
    for (key, value) in pairs(raw.unwrap_or("")) {
        match key.as_str() {
            "q" => q.text = value.trim().to_owned(),
            "kind" => {
                for k in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let kind = DatasetKind::parse(k).ok_or_else(|| {
                        WebError::BadRequest(format!(
                            "kind must be one of {}, got {k:?}",
                            kinds_list()
                        ))
                    })?;
                    if !q.kinds.contains(&kind) {
                        q.kinds.push(kind);
                    }
                }
            }
            "tag" => {
                for t in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    push_unique(&mut q.tags, t.to_lowercase());
                }
            }
            "limit" => {
                q.limit = match value.trim() {
                    "" => None,
                    v => match v.parse::<usize>() {
                        Ok(n) if (1..=MAX_SEARCH_LIMIT).contains(&n) => Some(n),
                        _ => {
                            return Err(WebError::BadRequest(format!(
                                "limit must be between 1 and {MAX_SEARCH_LIMIT}, got {v:?}"
                            )));
                        }
                    },
                }
            }
            _ => {}
        }
    }
    Ok(q)
}

/// The `kind` filter of `/api/catalog/datasets`, if any.
pub fn catalog_kinds(raw: Option<&str>) -> Result<Vec<DatasetKind>, WebError> {
    let q = catalog_search(raw)?;
    Ok(q.kinds)
}

/// The column a dataset page's lineage is about: `?column=`, empty meaning none.
pub fn lineage_column(raw: Option<&str>) -> Option<String> {
    pairs(raw.unwrap_or(""))
        .into_iter()
        .rev()
        .find(|(k, _)| k == "column")
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// How many hops a dataset page's lineage graph reaches: `?depth=`, none (all) when absent,
/// empty or not a number from 1 to 50.
pub fn lineage_depth(raw: Option<&str>) -> Option<usize> {
    pairs(raw.unwrap_or(""))
        .into_iter()
        .rev()
        .find(|(k, _)| k == "depth")
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .filter(|d| (1..=50).contains(d))
}

/// `GET /api/lineage/{id}`: `direction` (upstream, downstream or both, the default) and
/// `column`. Unknown parameters are refused, so a typo does not silently widen the answer.
pub fn lineage_query(raw: Option<&str>) -> Result<(Direction, Option<String>), WebError> {
    let mut direction = Direction::Both;
    let mut column = None;
    for (key, value) in pairs(raw.unwrap_or("")) {
        match key.as_str() {
            "direction" => {
                direction = match value.trim() {
                    "" | "both" => Direction::Both,
                    "upstream" | "up" => Direction::Upstream,
                    "downstream" | "down" => Direction::Downstream,
                    v => {
                        return Err(WebError::BadRequest(format!(
                            "direction must be upstream, downstream or both, got {v:?}"
                        )));
                    }
                }
            }
            "column" => column = Some(value.trim().to_owned()).filter(|v| !v.is_empty()),
            _ => {
                return Err(WebError::BadRequest(format!(
                    "unknown query parameter {key:?}; expected direction or column"
                )));
            }
        }
    }
    Ok((direction, column))
}
