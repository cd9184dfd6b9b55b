//! `docs/ERRORS.md` lists exactly the error codes the library returns: every code of
//! `orderflow::testing::errors::every_code` (one error of every kind) is in a table's code
//! column, and every code there is one the library returns.

use std::collections::BTreeSet;

use orderflow::testing::errors::{every_code, every_cursor_error};

/// The backquoted words of the `code` column of every table in `doc`.
fn documented_codes(doc: &str) -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    let mut column = None;
    for line in doc.lines() {
        if !line.starts_with('|') {
            column = None;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        match column {
            None => {
                column = Some(cells.iter().position(|c| *c == "code").expect("every error table has a code column"))
            }
            Some(at) if cells.iter().all(|c| c.chars().all(|ch| ch == '-')) => column = Some(at),
            Some(at) => {
                let cell = cells.get(at).unwrap_or_else(|| panic!("row without a code cell: {line}"));
                codes.extend(cell.split('`').skip(1).step_by(2).map(str::to_owned));
            }
        }
    }
    codes
}

#[test]
fn errors_doc_lists_every_code_the_library_returns_and_no_other() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ERRORS.md")).unwrap();
    let documented = documented_codes(&doc);
    let returned: BTreeSet<String> = every_code().into_iter().map(|(code, _)| code.to_owned()).collect();
    let missing: Vec<_> = returned.difference(&documented).collect();
    assert!(missing.is_empty(), "codes missing from the code columns of docs/ERRORS.md: {missing:?}");
    let unknown: Vec<_> = documented.difference(&returned).collect();
    assert!(unknown.is_empty(), "docs/ERRORS.md lists codes the library does not return: {unknown:?}");
}

#[test]
fn a_bad_query_feed_or_dead_letter_cursor_is_one_invalid_cursor_code() {
    let errors = every_cursor_error();
    assert_eq!(errors.len(), 3, "one error from each cursor's text form: {errors:?}");
    for e in errors {
        assert_eq!(e.code(), "invalid_cursor", "{e:?}");
    }
}
