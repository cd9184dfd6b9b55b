//! The docs tell the truth: the committed diagram and permission table are exactly what the
//! tables generate, and the facts the README and manifest state hold.

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

// The other facts the docs state, checked so they cannot drift either.

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Every file of a folder, recursively.
fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn no_file_cites_a_specification_the_repository_does_not_have() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let marker = ["SPEC", ".md"].concat();
    assert!(!root.join(&marker).exists(), "once the repository has that file, this test can go");
    let mut files = Vec::new();
    for dir in ["src", "tests", "examples", "benches", "docs"] {
        files_under(&root.join(dir), &mut files);
    }
    files.push(root.join("README.md"));
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(!text.contains(&marker), "{} cites {marker}", file.display());
    }
}

#[test]
fn the_readme_does_not_say_the_fakes_sign_as_real_providers_do() {
    assert!(!repo_file("README.md").contains("exactly as real providers do"));
}

#[test]
fn rust_version_is_what_the_locked_dependencies_need() {
    let manifest = repo_file("Cargo.toml");
    let declared = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("rust-version in Cargo.toml");
    let version = |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap()).collect() };
    let output = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline", "--all-features"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // The library's own dependencies (not dev-dependencies), followed through the lock.
    let nodes = metadata["resolve"]["nodes"].as_array().unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let root = metadata["resolve"]["root"].as_str().unwrap();
    let node = |id: &str| nodes.iter().find(|n| n["id"] == id).unwrap();
    let mut seen = vec![root.to_owned()];
    let mut todo = vec![root.to_owned()];
    while let Some(id) = todo.pop() {
        for dep in node(&id)["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null());
            let pkg = dep["pkg"].as_str().unwrap().to_owned();
            if normal && !seen.contains(&pkg) {
                seen.push(pkg.clone());
                todo.push(pkg);
            }
        }
    }
    let needed = packages
        .iter()
        .filter(|p| seen.iter().any(|id| p["id"] == id.as_str()) && p["id"] != root)
        .filter_map(|p| p["rust_version"].as_str().map(|v| (version(v), p["name"].to_string())))
        .max()
        .unwrap();
    let mut declared = version(declared);
    declared.resize(3, 0);
    let mut need = needed.0.clone();
    need.resize(3, 0);
    assert_eq!(declared, need, "rust-version must be what {} needs", needed.1);
}
