//! Prints the state diagram and permission table generated from the transition tables, in
//! the form docs/ARCHITECTURE.md embeds them (`cargo run --example print_diagram`).

fn main() {
    println!("```mermaid\n{}```", orderflow::transitions::mermaid());
    println!();
    print!("{}", orderflow::transitions::permissions_markdown());
}
