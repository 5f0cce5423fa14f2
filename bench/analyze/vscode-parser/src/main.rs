//! VS Code's heap-snapshot parser as a benchmark anchor: parse, dominators, retained sizes,
//! class summary; prints the root's retained size and the top classes as JSON.
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: vscode-parser-bench <file.heapsnapshot>");
    let start = Instant::now();
    let bytes = std::fs::read(&path).expect("readable snapshot");
    let graph = v8_heap_parser::decode_slice(&bytes).expect("parsable snapshot");
    drop(bytes);
    let root = graph.retained_size(graph.root_index);
    let groups = graph.get_class_groups(false);
    let top: Vec<String> = groups
        .iter()
        .take(10)
        .map(|g| {
            let name = graph.nodes()[g.index].weight.class_name();
            format!("[{:?},{},{}]", name, g.self_size, g.retained_size)
        })
        .collect();
    println!(
        "{{\"root_retained\":{root},\"nodes\":{},\"classes\":{},\"top\":[{}],\"seconds\":{:.3}}}",
        graph.nodes().len(),
        groups.len(),
        top.join(","),
        start.elapsed().as_secs_f64()
    );
}
