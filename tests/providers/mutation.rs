//! Edits of a valid message for the no-panic properties: bytes replaced, inserted or removed,
//! or the end cut off, anywhere in it.

use proptest::prelude::*;

/// One edit; positions are taken modulo the message's length, so any edit applies.
#[derive(Debug, Clone)]
pub enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

/// One to eight edits.
pub fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Replace(at, byte)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Insert(at, byte)),
        any::<usize>().prop_map(Edit::Remove),
        any::<usize>().prop_map(Edit::Truncate),
    ];
    prop::collection::vec(edit, 1..8)
}

/// `message` with `edits` applied in turn.
pub fn apply(message: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = message.to_vec();
    for edit in edits {
        let len = out.len();
        match *edit {
            Edit::Replace(at, byte) if len > 0 => out[at % len] = byte,
            Edit::Insert(at, byte) => out.insert(at % (len + 1), byte),
            Edit::Remove(at) if len > 0 => _ = out.remove(at % len),
            Edit::Truncate(at) => out.truncate(at % (len + 1)),
            _ => {}
        }
    }
    out
}

/// Arbitrary bytes, biased towards the shapes parsers meet: JSON and form text.
pub fn bodies() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        "[ -~]{0,256}".prop_map(String::into_bytes),
        "\\{(\"[a-z_]{1,12}\":(\"[ -~]{0,16}\"|[0-9-]{1,20}|\\{\\}|null),?){0,8}\\}".prop_map(String::into_bytes),
        "([a-z_]{1,12}=[ -~]{0,16}&?){0,8}".prop_map(String::into_bytes),
    ]
}
