//! A layered drawing of a lineage graph that a web page can render as SVG: layers left to right
//! (a node sits one layer right of its furthest input), nodes ordered within a layer by the
//! average position of their neighbours (a few barycentre sweeps, Sugiyama-style) so that edges
//! cross less.

use crate::lineage::{LineageGraph, NodeKind, kind_colour};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const NODE_WIDTH: f64 = 220.0;
pub const NODE_HEIGHT: f64 = 34.0;
const LAYER_GAP: f64 = 80.0;
const ROW_GAP: f64 = 14.0;
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<PlacedNode>,
    pub edges: Vec<PlacedEdge>,
}

pub(crate) fn layout(graph: &LineageGraph) -> Layout {
    let ids: Vec<&str> = graph.nodes.iter().map(|n| n.id.as_str()).collect();
    let index: BTreeMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let edges: Vec<(usize, usize)> = graph
        .edges
        .iter()
        .filter_map(|e| Some((*index.get(e.from.as_str())?, *index.get(e.to.as_str())?)))
        .filter(|(a, b)| a != b)
        .collect();
    // Longest path from a root (Kahn's order); nodes on a cycle, which a valid project has not,
    // go one layer right of everything placed.
    let n = ids.len();
    let mut indegree = vec![0usize; n];
    for &(_, b) in &edges {
        indegree[b] += 1;
    }
    let mut layer = vec![0usize; n];
    let mut placed = vec![false; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    while let Some(i) = ready.pop() {
        placed[i] = true;
        for &(a, b) in &edges {
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
    let layers = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for i in 0..n {
        rows[layer[i]].push(i);
    }
    for row in &mut rows {
        row.sort_by(|&a, &b| {
            (graph.nodes[a].kind, &graph.nodes[a].label)
                .cmp(&(graph.nodes[b].kind, &graph.nodes[b].label))
        });
    }
    let mut position = vec![0f64; n];
    let set_positions = |rows: &Vec<Vec<usize>>, position: &mut Vec<f64>| {
        for row in rows {
            for (p, &i) in row.iter().enumerate() {
                position[i] = p as f64;
            }
        }
    };
    set_positions(&rows, &mut position);
    for sweep in 0..6 {
        let downward = sweep % 2 == 0;
        let order: Vec<usize> = if downward {
            (1..layers).collect()
        } else {
            (0..layers.saturating_sub(1)).rev().collect()
        };
        for l in order {
            let mut keyed: Vec<(f64, usize)> = rows[l]
                .iter()
                .map(|&i| {
                    let neighbours: Vec<f64> = edges
                        .iter()
                        .filter_map(|&(a, b)| {
                            if downward && b == i && layer[a] < l {
                                Some(position[a])
                            } else if !downward && a == i && layer[b] > l {
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
    let tallest = rows.iter().map(Vec::len).max().unwrap_or(0) as f64;
    let column_height = tallest * (NODE_HEIGHT + ROW_GAP) - ROW_GAP;
    let mut nodes: Vec<PlacedNode> = Vec::with_capacity(n);
    let mut xy = vec![(0f64, 0f64); n];
    for (l, row) in rows.iter().enumerate() {
        let h = row.len() as f64 * (NODE_HEIGHT + ROW_GAP) - ROW_GAP;
        let top = MARGIN + (column_height - h) / 2.0;
        for (p, &i) in row.iter().enumerate() {
            let x = MARGIN + l as f64 * (NODE_WIDTH + LAYER_GAP);
            let y = top + p as f64 * (NODE_HEIGHT + ROW_GAP);
            xy[i] = (x, y);
            let node = &graph.nodes[i];
            nodes.push(PlacedNode {
                id: node.id.clone(),
                label: node.label.clone(),
                kind: node.kind,
                layer: l,
                x,
                y,
                width: NODE_WIDTH,
                height: NODE_HEIGHT,
                start: node.id == graph.start,
            });
        }
    }
    let placed_edges = graph
        .edges
        .iter()
        .filter_map(|e| {
            let a = xy[*index.get(e.from.as_str())?];
            let b = xy[*index.get(e.to.as_str())?];
            Some(PlacedEdge {
                from: e.from.clone(),
                to: e.to.clone(),
                indirect: e.indirect,
                x1: a.0 + NODE_WIDTH,
                y1: a.1 + NODE_HEIGHT / 2.0,
                x2: b.0,
                y2: b.1 + NODE_HEIGHT / 2.0,
            })
        })
        .collect();
    Layout {
        width: 2.0 * MARGIN
            + layers as f64 * NODE_WIDTH
            + layers.saturating_sub(1) as f64 * LAYER_GAP,
        height: 2.0 * MARGIN + column_height.max(0.0),
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
            let mid = (e.x1 + e.x2) / 2.0;
            let dash = if e.indirect {
                " stroke-dasharray=\"4 3\""
            } else {
                ""
            };
            out.push_str(&format!(
                "<path class=\"edge\" d=\"M {} {} C {mid} {}, {mid} {}, {} {}\" fill=\"none\" stroke=\"#888\"{dash} marker-end=\"url(#arrow)\"/>\n",
                e.x1, e.y1, e.y1, e.y2, e.x2, e.y2
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
