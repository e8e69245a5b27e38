//! dbt's node selection syntax over the asset graph: space-separated terms are a union, commas
//! inside a term an intersection; `+name` / `2+name` add ancestors, `name+` / `name+1`
//! descendants, `@name` descendants and all their ancestors; methods `tag:`, `source:`, `path:`.

use crate::error::OrchestrateError;
use crate::graph::{AssetGraph, Direction, TaskKind};
use std::collections::BTreeSet;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Union of intersections.
    pub terms: Vec<Vec<Atom>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atom {
    pub at: bool,
    /// `None`: no ancestors; `Some(None)`: all; `Some(Some(n))`: up to n levels.
    pub parents: Option<Option<usize>>,
    pub children: Option<Option<usize>>,
    pub core: String,
}

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, OrchestrateError> {
        let err = |message: String| OrchestrateError::Selector {
            selector: text.to_string(),
            message,
        };
        let mut terms = Vec::new();
        for term in text.split_whitespace() {
            let mut atoms = Vec::new();
            for part in term.split(',') {
                atoms.push(Atom::parse(part).map_err(err)?);
            }
            terms.push(atoms);
        }
        if terms.is_empty() {
            return Err(err(
                "selects nothing: give a model name, tag:, source: or path:".into(),
            ));
        }
        Ok(Selector { terms })
    }

    pub fn evaluate(&self, graph: &AssetGraph) -> Result<BTreeSet<String>, OrchestrateError> {
        let mut unknown: Vec<String> = Vec::new();
        let mut out = BTreeSet::new();
        for term in &self.terms {
            let mut acc: Option<BTreeSet<String>> = None;
            for atom in term {
                let set = match atom.evaluate(graph) {
                    Ok(s) => s,
                    Err(name) => {
                        if !unknown.contains(&name) {
                            unknown.push(name);
                        }
                        BTreeSet::new()
                    }
                };
                acc = Some(match acc {
                    None => set,
                    Some(a) => a.intersection(&set).cloned().collect(),
                });
            }
            out.extend(acc.unwrap_or_default());
        }
        if !unknown.is_empty() {
            let names: Vec<String> = unknown.iter().map(|n| format!("`{n}`")).collect();
            return Err(OrchestrateError::Selector {
                selector: self.to_string(),
                message: format!("nothing in the project matches {}", names.join(", ")),
            });
        }
        Ok(out)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let terms: Vec<String> = self
            .terms
            .iter()
            .map(|t| t.iter().map(Atom::to_string).collect::<Vec<_>>().join(","))
            .collect();
        f.write_str(&terms.join(" "))
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at {
            f.write_str("@")?;
        }
        match self.parents {
            Some(Some(n)) => write!(f, "{n}+")?,
            Some(None) => f.write_str("+")?,
            None => {}
        }
        f.write_str(&self.core)?;
        match self.children {
            Some(Some(n)) => write!(f, "+{n}"),
            Some(None) => f.write_str("+"),
            None => Ok(()),
        }
    }
}

impl Atom {
    fn parse(text: &str) -> Result<Atom, String> {
        if text.is_empty() {
            return Err("an empty element (two commas, or a comma at an end)".into());
        }
        let (at, rest) = match text.strip_prefix('@') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let mut parents = None;
        let mut rest = rest;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if rest[digits..].starts_with('+') {
            let depth = if digits == 0 {
                None
            } else {
                Some(
                    rest[..digits]
                        .parse::<usize>()
                        .map_err(|_| format!("`{text}`: the depth is too large"))?,
                )
            };
            parents = Some(depth);
            rest = &rest[digits + 1..];
        }
        let mut children = None;
        if let Some(pos) = rest.rfind('+') {
            let tail = &rest[pos + 1..];
            if tail.bytes().all(|b| b.is_ascii_digit()) {
                let depth = if tail.is_empty() {
                    None
                } else {
                    Some(
                        tail.parse::<usize>()
                            .map_err(|_| format!("`{text}`: the depth is too large"))?,
                    )
                };
                children = Some(depth);
                rest = &rest[..pos];
            }
        }
        if at && parents.is_some() {
            return Err(format!(
                "`{text}`: `@` already includes all ancestors; it cannot be combined with a leading `+`"
            ));
        }
        if rest.is_empty() {
            return Err(format!("`{text}` names nothing"));
        }
        if let Some(bad) = rest
            .chars()
            .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/' | '*')))
        {
            return Err(format!("`{text}`: unexpected character `{bad}`"));
        }
        Ok(Atom {
            at,
            parents,
            children,
            core: rest.to_string(),
        })
    }

    /// The atom's tasks, or the name that matched nothing.
    fn evaluate(&self, graph: &AssetGraph) -> Result<BTreeSet<String>, String> {
        let base = core_tasks(&self.core, graph)?;
        let mut out = base.clone();
        let walk = |ids: &BTreeSet<String>, depth: Option<usize>, dir: Direction| {
            let mut s = BTreeSet::new();
            for id in ids {
                s.extend(graph.walk(id, depth.unwrap_or(usize::MAX), dir));
            }
            s
        };
        if let Some(depth) = self.parents {
            out.extend(walk(&base, depth, Direction::Up));
        }
        if let Some(depth) = self.children {
            out.extend(walk(&base, depth, Direction::Down));
        }
        if self.at {
            let mut down = base.clone();
            down.extend(walk(&base, None, Direction::Down));
            out.extend(walk(&down, None, Direction::Up));
            out.extend(down);
        }
        Ok(out)
    }
}

fn core_tasks(core: &str, graph: &AssetGraph) -> Result<BTreeSet<String>, String> {
    if graph.task(core).is_some() {
        return Ok(BTreeSet::from([core.to_string()]));
    }
    let found: BTreeSet<String> = if let Some(tag) = core.strip_prefix("tag:") {
        graph
            .tasks
            .iter()
            .filter(|t| t.tags.iter().any(|x| x == tag))
            .map(|t| t.id.clone())
            .collect()
    } else if let Some(src) = core.strip_prefix("source:") {
        let (source, table) = match src.split_once('.') {
            Some((s, t)) => (s, Some(t)),
            None => (src, None),
        };
        let land = format!("land:{source}");
        let mut set: BTreeSet<String> = graph
            .tasks
            .iter()
            .filter(|t| t.kind == TaskKind::Validate)
            .filter(|t| match table {
                Some(table) => t.target == format!("{source}.{table}"),
                None => t.target.split_once('.').is_some_and(|(s, _)| s == source),
            })
            .map(|t| t.id.clone())
            .collect();
        if graph.task(&land).is_some() {
            let table_known = table.is_none_or(|t| graph.has_source_table(source, t));
            if table_known {
                set.insert(land);
            }
        }
        set
    } else if let Some(path) = core.strip_prefix("path:") {
        let path = path.trim_end_matches('/');
        graph
            .tasks
            .iter()
            .filter(|t| {
                graph.path_of(&t.id).is_some_and(|p| {
                    p == path
                        || p.strip_prefix(path)
                            .is_some_and(|rest| rest.starts_with('/'))
                        || p.strip_suffix(".sql") == Some(path)
                })
            })
            .map(|t| t.id.clone())
            .collect()
    } else if !core.contains(':') && core.contains('*') {
        graph
            .tasks
            .iter()
            .filter(|t| t.kind == TaskKind::Model && wildcard(core, &t.target))
            .map(|t| t.id.clone())
            .collect()
    } else if !core.contains(':') {
        let id = format!("model:{core}");
        graph.task(&id).map(|_| id).into_iter().collect()
    } else {
        BTreeSet::new()
    };
    if found.is_empty() {
        Err(core.to_string())
    } else {
        Ok(found)
    }
}

/// Shell-style `*` matching (dbt's `stg_orders__*`): any run of characters, nothing else special.
fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = match parts.split_first() {
        Some(x) => x,
        None => return text.is_empty(),
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for part in middle {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::TaskSpec;
    use proptest::prelude::*;

    fn graph() -> AssetGraph {
        let t = |id: &str, kind: TaskKind, target: &str, tags: &[&str], up: &[&str]| TaskSpec {
            id: id.into(),
            kind,
            target: target.into(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            upstream: up.iter().map(|s| s.to_string()).collect(),
        };
        AssetGraph::from_tasks(vec![
            t("land:orders", TaskKind::Land, "orders", &[], &[]),
            t(
                "validate:orders.orders",
                TaskKind::Validate,
                "orders.orders",
                &[],
                &["land:orders"],
            ),
            t("land:pay", TaskKind::Land, "pay", &[], &[]),
            t(
                "model:stg_orders",
                TaskKind::Model,
                "stg_orders",
                &[],
                &["validate:orders.orders"],
            ),
            t(
                "model:stg_pay",
                TaskKind::Model,
                "stg_pay",
                &["finance"],
                &["land:pay"],
            ),
            t(
                "model:fct",
                TaskKind::Model,
                "fct",
                &["finance"],
                &["model:stg_orders", "model:stg_pay"],
            ),
            t("model:rpt", TaskKind::Model, "rpt", &[], &["model:fct"]),
        ])
        .expect("valid graph")
    }

    fn sel(s: &str) -> Vec<String> {
        graph()
            .select(s, None)
            .expect("selects")
            .into_iter()
            .collect()
    }

    #[test]
    fn graph_operators() {
        assert_eq!(sel("fct"), ["model:fct"]);
        assert_eq!(sel("fct+"), ["model:fct", "model:rpt"]);
        assert_eq!(
            sel("+fct"),
            [
                "land:orders",
                "land:pay",
                "model:fct",
                "model:stg_orders",
                "model:stg_pay",
                "validate:orders.orders"
            ]
        );
        assert_eq!(
            sel("1+fct"),
            ["model:fct", "model:stg_orders", "model:stg_pay"]
        );
        assert_eq!(sel("stg_orders+1"), ["model:fct", "model:stg_orders"]);
        assert_eq!(
            sel("@stg_pay"),
            [
                "land:orders",
                "land:pay",
                "model:fct",
                "model:rpt",
                "model:stg_orders",
                "model:stg_pay",
                "validate:orders.orders"
            ]
        );
    }

    #[test]
    fn methods_union_and_intersection() {
        assert_eq!(sel("tag:finance"), ["model:fct", "model:stg_pay"]);
        assert_eq!(
            sel("source:orders"),
            ["land:orders", "validate:orders.orders"]
        );
        assert_eq!(
            sel("source:orders.orders"),
            ["land:orders", "validate:orders.orders"]
        );
        assert_eq!(sel("tag:finance,fct+"), ["model:fct"]);
        assert_eq!(sel("stg_pay rpt"), ["model:rpt", "model:stg_pay"]);
        assert_eq!(sel("land:pay"), ["land:pay"]);
        let g = graph();
        let s = g
            .select("+rpt", Some("source:orders tag:finance"))
            .expect("selects");
        assert_eq!(
            s.into_iter().collect::<Vec<_>>(),
            ["land:pay", "model:rpt", "model:stg_orders"]
        );
    }

    #[test]
    fn wildcards_match_model_names() {
        assert_eq!(sel("stg_*"), ["model:stg_orders", "model:stg_pay"]);
        assert_eq!(sel("*_pay+"), ["model:fct", "model:rpt", "model:stg_pay"]);
        assert!(graph().select("zz*", None).is_err());
        assert!(wildcard("a*b*c", "axxbyyc") && !wildcard("a*b*c", "axxbyy"));
        assert!(wildcard("*", "") && wildcard("ab", "ab") && !wildcard("ab", "abc"));
        assert!(wildcard("a*a", "aa") && !wildcard("a*a", "a"));
    }

    #[test]
    fn unknown_names_are_all_named() {
        let e = graph()
            .select("fct nope tag:nada,rpt", None)
            .expect_err("unknown");
        let msg = e.to_string();
        assert!(
            msg.contains("`nope`") && msg.contains("`tag:nada`"),
            "{msg}"
        );
        assert!(Selector::parse("@+fct").is_err());
        assert!(Selector::parse("a,,b").is_err());
        assert!(Selector::parse("   ").is_err());
        assert!(Selector::parse("fct;drop").is_err());
    }

    fn atom_strategy() -> impl Strategy<Value = Atom> {
        let core = prop_oneof![
            "[a-z_]{1,8}".prop_map(|s| s),
            "[a-z_]{1,6}".prop_map(|s| format!("tag:{s}")),
            "[a-z]{1,4}\\.[a-z]{1,4}".prop_map(|s| format!("source:{s}")),
        ];
        let depth = prop_oneof![
            Just(None),
            Just(Some(None)),
            (0usize..5).prop_map(|n| Some(Some(n)))
        ];
        (any::<bool>(), depth.clone(), depth, core).prop_map(|(at, parents, children, core)| Atom {
            at,
            parents: if at { None } else { parents },
            children,
            core,
        })
    }

    proptest! {
        #[test]
        fn printing_and_parsing_round_trip(terms in prop::collection::vec(prop::collection::vec(atom_strategy(), 1..4), 1..4)) {
            let s = Selector { terms };
            let text = s.to_string();
            prop_assert_eq!(Selector::parse(&text).expect("parses its own output"), s);
        }

        #[test]
        fn the_parser_never_panics(text in "[ -~]{0,30}") {
            let _ = Selector::parse(&text);
        }

        #[test]
        fn operators_only_add_and_union_is_commutative(a in prop::sample::select(vec!["stg_orders", "stg_pay", "fct", "rpt", "land:orders", "tag:finance"]),
                                                        b in prop::sample::select(vec!["stg_orders", "fct", "source:orders", "rpt"])) {
            let g = graph();
            let plain = g.select(a, None).expect("known");
            for op in [format!("+{a}"), format!("{a}+"), format!("@{a}"), format!("1+{a}+1")] {
                let wider = g.select(&op, None).expect("known");
                prop_assert!(wider.is_superset(&plain), "{} not a superset", op);
            }
            prop_assert_eq!(g.select(&format!("{a} {b}"), None).expect("known"), g.select(&format!("{b} {a}"), None).expect("known"));
            let both = g.select(&format!("{a},{b}"), None).expect("known");
            let left = g.select(a, None).expect("known");
            let right = g.select(b, None).expect("known");
            prop_assert_eq!(both, left.intersection(&right).cloned().collect::<BTreeSet<_>>());
        }
    }
}
