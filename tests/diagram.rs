//! The committed diagram and permission table must be exactly what the tables generate.

use orderflow::transitions::{mermaid, permissions_markdown};

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).map(|i| i + start.len()).unwrap_or_else(|| panic!("marker {start} missing"));
    let to = text[from..].find(end).map(|i| i + from).unwrap_or_else(|| panic!("marker {end} missing"));
    text[from..to].trim()
}

#[test]
fn architecture_doc_embeds_the_generated_diagram_and_permissions() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ARCHITECTURE.md")).unwrap();
    let expected = format!("```mermaid\n{}```", mermaid());
    assert_eq!(between(&doc, "<!-- state-diagram:start -->", "<!-- state-diagram:end -->"), expected.trim());
    assert_eq!(between(&doc, "<!-- permissions:start -->", "<!-- permissions:end -->"), permissions_markdown().trim());
}

#[test]
fn readme_embeds_the_generated_diagram() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let expected = format!("```mermaid\n{}```", mermaid());
    assert_eq!(between(&readme, "<!-- state-diagram:start -->", "<!-- state-diagram:end -->"), expected.trim());
}

#[test]
fn every_command_kind_has_a_transition_row_and_a_permission_row() {
    use orderflow::transitions::{PERMISSIONS, TRANSITIONS};
    for (kind, _) in PERMISSIONS {
        assert!(TRANSITIONS.iter().any(|t| t.command == *kind), "{kind} has no transition row");
    }
    for t in TRANSITIONS {
        assert!(PERMISSIONS.iter().any(|(k, _)| *k == t.command), "{} has no permission row", t.command);
    }
}
