//! The project's own documentation (README.md and docs/) links only inside the repository, and
//! every relative link reaches a file (and a heading, when it names one).

use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn documents() -> Vec<PathBuf> {
    let mut documents = vec![Path::new(ROOT).join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .expect("docs/")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    documents.extend(docs);
    documents
}

/// The targets of the Markdown links `[text](target)` in `text`.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("](") {
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else { break };
        targets.push(after[..end].to_owned());
        rest = &after[end..];
    }
    targets
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim_start_matches('#')
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut in_code = false;
    let mut found = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            found.push(anchor(line));
        }
    }
    found
}

#[test]
fn documentation_links_stay_inside_the_repository_and_resolve() {
    let mut broken = Vec::new();
    for document in documents() {
        let text = std::fs::read_to_string(&document).expect("a document");
        let name = document.strip_prefix(ROOT).unwrap().display().to_string();
        for target in link_targets(&text) {
            if target.starts_with("http://127.0.0.1") || target.starts_with("http://localhost") {
                continue;
            }
            if target.contains("://") || target.contains("../shared") {
                broken.push(format!("{name}: {target} leaves the repository"));
                continue;
            }
            let (file, fragment) = match target.split_once('#') {
                Some((file, fragment)) => (file, Some(fragment)),
                None => (target.as_str(), None),
            };
            let path = if file.is_empty() {
                document.clone()
            } else {
                document.parent().unwrap().join(file)
            };
            let Ok(resolved) = path.canonicalize() else {
                broken.push(format!("{name}: {target} does not exist"));
                continue;
            };
            if !resolved.starts_with(Path::new(ROOT).canonicalize().unwrap()) {
                broken.push(format!("{name}: {target} leaves the repository"));
                continue;
            }
            if let Some(fragment) = fragment {
                let linked = std::fs::read_to_string(&resolved).unwrap_or_default();
                if !anchors(&linked).iter().any(|found| found == fragment) {
                    broken.push(format!("{name}: {target} names no heading"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken documentation links: {broken:#?}");
}

#[test]
fn anchors_follow_github() {
    assert_eq!(
        anchor("### `POST /accounts/{id}/deposits`"),
        "post-accountsiddeposits"
    );
    assert_eq!(
        anchor("### Pending (two-phase) transfers (new)"),
        "pending-two-phase-transfers-new"
    );
    assert_eq!(
        anchor("## The write shape and its price"),
        "the-write-shape-and-its-price"
    );
}
