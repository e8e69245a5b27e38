//! A layered drawing of a lineage graph that a web page can render as SVG (Sugiyama-style):
//! layers left to right, a node one layer right of its furthest input; an edge that spans
//! several layers passes through a thin virtual slot in each layer between, so it never runs
//! through a node; nodes and slots are ordered within a layer by the average position of their
//! neighbours (a few barycentre sweeps) so that edges cross less.

use crate::lineage::{LineageGraph, NodeKind, kind_colour};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const NODE_WIDTH: f64 = 220.0;
pub const NODE_HEIGHT: f64 = 34.0;
const LAYER_GAP: f64 = 80.0;
const ROW_GAP: f64 = 14.0;
/// The height a long edge takes where it crosses a layer.
const SLOT_HEIGHT: f64 = 8.0;
const MARGIN: f64 = 16.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlacedNode {
    pub id: String,
    pub label: String,
    pub kind: NodeKind,
    pub layer: usize,
    /// Top-left corner.
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// The node the graph was asked about.
    pub start: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlacedEdge {
    pub from: String,
    pub to: String,
    pub indirect: bool,
    /// From the middle of the right side of `from` to the middle of the left side of `to`.
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
    /// The whole route, `(x1, y1)` first and `(x2, y2)` last; an edge that spans layers enters
    /// and leaves a slot in each layer between (pairs of points at the same height).
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<PlacedNode>,
    pub edges: Vec<PlacedEdge>,
}

/// Longest path from a root, in Kahn's order; nodes on a cycle (a valid project has none) go
/// one layer right of everything placed.
fn layers(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut indegree = vec![0usize; n];
    for &(_, b) in edges {
        indegree[b] += 1;
    }
    let mut layer = vec![0usize; n];
    let mut placed = vec![false; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    while let Some(i) = ready.pop() {
        placed[i] = true;
        for &(a, b) in edges {
            if a == i {
                layer[b] = layer[b].max(layer[a] + 1);
                indegree[b] -= 1;
                if indegree[b] == 0 {
                    ready.push(b);
                }
            }
        }
    }
    let deepest = layer.iter().copied().max().unwrap_or(0);
    for i in 0..n {
        if !placed[i] {
            layer[i] = deepest + 1;
        }
    }
    layer
}

pub(crate) fn layout(graph: &LineageGraph) -> Layout {
    let index: BTreeMap<&str, usize> = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let real = graph.nodes.len();
    // (graph edge index, from, to), nodes by index.
    let edges: Vec<(usize, usize, usize)> = graph
        .edges
        .iter()
        .enumerate()
        .filter_map(|(k, e)| Some((k, *index.get(e.from.as_str())?, *index.get(e.to.as_str())?)))
        .filter(|(_, a, b)| a != b)
        .collect();
    let pairs: Vec<(usize, usize)> = edges.iter().map(|&(_, a, b)| (a, b)).collect();
    let mut layer = layers(real, &pairs);
    // Virtual slots: one per layer an edge crosses. Items [0, real) are nodes, the rest slots.
    let mut links: Vec<(usize, usize)> = Vec::new();
    let mut routes: Vec<(usize, usize, usize, Vec<usize>)> = Vec::new();
    for &(k, a, b) in &edges {
        let (la, lb) = (layer[a], layer[b]);
        let mut chain = Vec::new();
        let mut previous = a;
        if lb > la {
            for l in la + 1..lb {
                let v = layer.len();
                layer.push(l);
                links.push((previous, v));
                chain.push(v);
                previous = v;
            }
        }
        links.push((previous, b));
        routes.push((k, a, b, chain));
    }
    let items = layer.len();
    let count = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (i, &l) in layer.iter().enumerate() {
        rows[l].push(i);
    }
    let sort_key = |i: usize| match graph.nodes.get(i) {
        Some(n) => (n.kind, n.label.clone()),
        None => (NodeKind::Dashboard, String::from("\u{10FFFF}")),
    };
    for row in &mut rows {
        row.sort_by_key(|&i| sort_key(i));
    }
    let mut position = vec![0f64; items];
    let set_positions = |rows: &Vec<Vec<usize>>, position: &mut Vec<f64>| {
        for row in rows {
            for (p, &i) in row.iter().enumerate() {
                position[i] = p as f64;
            }
        }
    };
    set_positions(&rows, &mut position);
    for sweep in 0..8 {
        let downward = sweep % 2 == 0;
        let order: Vec<usize> = if downward {
            (1..count).collect()
        } else {
            (0..count.saturating_sub(1)).rev().collect()
        };
        for l in order {
            let mut keyed: Vec<(f64, usize)> = rows[l]
                .iter()
                .map(|&i| {
                    let neighbours: Vec<f64> = links
                        .iter()
                        .filter_map(|&(a, b)| {
                            if downward && b == i {
                                Some(position[a])
                            } else if !downward && a == i {
                                Some(position[b])
                            } else {
                                None
                            }
                        })
                        .collect();
                    let key = if neighbours.is_empty() {
                        position[i]
                    } else {
                        neighbours.iter().sum::<f64>() / neighbours.len() as f64
                    };
                    (key, i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            rows[l] = keyed.into_iter().map(|(_, i)| i).collect();
            set_positions(&rows, &mut position);
        }
    }
    let height_of = |i: usize| if i < real { NODE_HEIGHT } else { SLOT_HEIGHT };
    let column_height = |row: &Vec<usize>| -> f64 {
        let h: f64 = row.iter().map(|&i| height_of(i) + ROW_GAP).sum();
        (h - ROW_GAP).max(0.0)
    };
    let tallest = rows.iter().map(column_height).fold(0f64, f64::max);
    let mut xy = vec![(0f64, 0f64); items];
    for (l, row) in rows.iter().enumerate() {
        let mut y = MARGIN + (tallest - column_height(row)) / 2.0;
        let x = MARGIN + l as f64 * (NODE_WIDTH + LAYER_GAP);
        for &i in row {
            xy[i] = (x, y);
            y += height_of(i) + ROW_GAP;
        }
    }
    let mut nodes: Vec<PlacedNode> = Vec::with_capacity(real);
    for (l, row) in rows.iter().enumerate() {
        for &i in row {
            let Some(node) = graph.nodes.get(i) else {
                continue;
            };
            nodes.push(PlacedNode {
                id: node.id.clone(),
                label: node.label.clone(),
                kind: node.kind,
                layer: l,
                x: xy[i].0,
                y: xy[i].1,
                width: NODE_WIDTH,
                height: NODE_HEIGHT,
                start: node.id == graph.start,
            });
        }
    }
    let placed_edges = routes
        .into_iter()
        .map(|(k, a, b, chain)| {
            let e = &graph.edges[k];
            let start = (xy[a].0 + NODE_WIDTH, xy[a].1 + NODE_HEIGHT / 2.0);
            let end = (xy[b].0, xy[b].1 + NODE_HEIGHT / 2.0);
            let mut points = vec![start];
            for v in chain {
                let y = xy[v].1 + SLOT_HEIGHT / 2.0;
                points.push((xy[v].0, y));
                points.push((xy[v].0 + NODE_WIDTH, y));
            }
            points.push(end);
            PlacedEdge {
                from: e.from.clone(),
                to: e.to.clone(),
                indirect: e.indirect,
                x1: start.0,
                y1: start.1,
                x2: end.0,
                y2: end.1,
                points,
            }
        })
        .collect();
    Layout {
        width: 2.0 * MARGIN
            + count as f64 * NODE_WIDTH
            + count.saturating_sub(1) as f64 * LAYER_GAP,
        height: 2.0 * MARGIN + tallest,
        nodes,
        edges: placed_edges,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl PlacedEdge {
    /// The SVG path of the route: curves across the gaps between layers, straight lines
    /// through the slots of the layers it crosses.
    pub fn svg_path(&self) -> String {
        let mut d = String::new();
        for (i, pair) in self.points.windows(2).enumerate() {
            let ((x1, y1), (x2, y2)) = (pair[0], pair[1]);
            if i == 0 {
                d.push_str(&format!("M {x1} {y1}"));
            }
            if i % 2 == 0 {
                let mid = (x1 + x2) / 2.0;
                d.push_str(&format!(" C {mid} {y1}, {mid} {y2}, {x2} {y2}"));
            } else {
                d.push_str(&format!(" L {x2} {y2}"));
            }
        }
        d
    }
}

impl Layout {
    /// A self-contained SVG of the layout: boxes coloured by kind, curved edges (dashed when
    /// indirect); each node is a `<g class="node" data-id="…">` a page can link or style.
    pub fn to_svg(&self) -> String {
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"lineage\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n",
            w = self.width,
            h = self.height
        );
        out.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#888\"/></marker></defs>\n");
        for e in &self.edges {
            let dash = if e.indirect {
                " stroke-dasharray=\"4 3\""
            } else {
                ""
            };
            out.push_str(&format!(
                "<path class=\"edge\" data-from=\"{}\" data-to=\"{}\" d=\"{}\" fill=\"none\" stroke=\"#888\"{dash} marker-end=\"url(#arrow)\"/>\n",
                escape(&e.from),
                escape(&e.to),
                e.svg_path()
            ));
        }
        for nd in &self.nodes {
            let stroke = if nd.start { "#333" } else { "#aaa" };
            let width = if nd.start { 2 } else { 1 };
            let mut label: String = nd.label.chars().take(32).collect();
            if nd.label.chars().count() > 32 {
                label.push('…');
            }
            out.push_str(&format!(
                "<g class=\"node {kind}\" data-id=\"{id}\"><title>{full}</title><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/><text x=\"{tx}\" y=\"{ty}\">{label}</text></g>\n",
                kind = nd.kind.as_str(),
                id = escape(&nd.id),
                full = escape(&nd.label),
                x = nd.x,
                y = nd.y,
                w = nd.width,
                h = nd.height,
                fill = kind_colour(nd.kind),
                tx = nd.x + 8.0,
                ty = nd.y + nd.height / 2.0 + 4.0,
                label = escape(&label),
            ));
        }
        out.push_str("</svg>\n");
        out
    }
}
