//! Prints a project's asset graph, as `pulse graph` will:
//! `cargo run -p pulse-orchestrate --example graph -- examples/food-delivery [selector] [--dot]`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dot = args.iter().any(|a| a == "--dot");
    let mut rest = args.iter().filter(|a| *a != "--dot");
    let root = rest.next().map(String::as_str).unwrap_or(".");
    let project = pulse_project::Project::load(std::path::Path::new(root))?;
    let mut graph = pulse_orchestrate::AssetGraph::from_project(&project);
    if let Some(selector) = rest.next() {
        graph = graph.restrict(&graph.select(selector, None)?);
    }
    if dot {
        print!("{}", graph.to_dot());
    } else {
        print!("{}", graph.render_text());
    }
    Ok(())
}
