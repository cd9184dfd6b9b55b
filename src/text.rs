//! Shared immutable text, and the variant attributes of a product.
//!
//! An order's product names, variants, address and tracking texts are written once and then
//! repeated in its events, its snapshot, pick lists and effects. Sharing them makes those
//! copies reference-count increments instead of allocations.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Immutable text shared between copies: a clone is a reference-count increment. Compares,
/// hashes, orders and serializes exactly like the text it holds (a JSON string).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(Arc<str>);

impl Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Text {
    fn default() -> Text {
        Text::from("")
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Text {
        Text(Arc::from(text))
    }
}

impl From<String> for Text {
    fn from(text: String) -> Text {
        Text(Arc::from(text))
    }
}

impl From<&String> for Text {
    fn from(text: &String) -> Text {
        Text::from(text.as_str())
    }
}

impl From<Text> for String {
    fn from(text: Text) -> String {
        text.as_str().to_owned()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text, D::Error> {
        String::deserialize(deserializer).map(Text::from)
    }
}

/// [`str::trim`] with a shortcut for the usual case, text that starts and ends with a visible
/// ASCII character (nothing to trim): validation and packing trim every field.
pub(crate) trait Trim {
    /// The text without leading and trailing whitespace, exactly as [`str::trim`].
    fn trimmed(&self) -> &str;
}

impl Trim for str {
    #[inline]
    fn trimmed(&self) -> &str {
        let visible = |b: &u8| b.is_ascii_graphic();
        match (self.as_bytes().first(), self.as_bytes().last()) {
            (Some(first), Some(last)) if visible(first) && visible(last) => self,
            _ => self.trim_matches(|c: char| c.is_whitespace() || is_invisible(c)),
        }
    }
}

/// Characters that show nothing and are not Unicode whitespace: zero-width spaces and
/// joiners, word joiner and invisible operators, byte-order mark, soft hyphen, and the
/// direction marks and embeddings. A value made only of them (and whitespace) is blank.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Variant (specification) attributes of a product, e.g. `colour = red`, `size = XL`: a map
/// from attribute name to value, kept sorted by name (names unique, the last one given wins),
/// so two lines with the same attributes compare equal.
///
/// Shared between copies (a line's variant is repeated in its order, events and pick list), and
/// an empty variant allocates nothing. Serialized as a JSON object, like the
/// `BTreeMap<String, String>` it replaces.
///
/// ```
/// use orderflow::placement::Variant;
/// let v: Variant = [("size", "L"), ("colour", "red"), ("size", "XL")].into_iter().collect();
/// assert_eq!(v.len(), 2);
/// assert_eq!(v.get("size"), Some("XL"));
/// assert_eq!(v.keys().collect::<Vec<_>>(), ["colour", "size"]);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Variant(Option<Arc<[(String, String)]>>);

impl Variant {
    /// No attributes.
    pub fn new() -> Variant {
        Variant(None)
    }

    fn pairs(&self) -> &[(String, String)] {
        self.0.as_deref().unwrap_or_default()
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.pairs().len()
    }

    /// True when there are no attributes.
    pub fn is_empty(&self) -> bool {
        self.pairs().is_empty()
    }

    /// The value of attribute `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let pairs = self.pairs();
        pairs.binary_search_by(|(k, _)| k.as_str().cmp(name)).ok().and_then(|i| pairs.get(i)).map(|(_, v)| v.as_str())
    }

    /// Attributes as `(name, value)`, sorted by name.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.pairs().iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Attribute names, sorted.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.pairs().iter().map(|(k, _)| k.as_str())
    }

    /// Sets attribute `name` (a copy of the other attributes is made: variants are built once
    /// and then shared). Returns the value it replaced.
    pub fn insert(&mut self, name: String, value: String) -> Option<String> {
        let mut map = self.to_map();
        let old = map.insert(name, value);
        *self = Variant::from(map);
        old
    }

    fn to_map(&self) -> BTreeMap<String, String> {
        self.pairs().iter().cloned().collect()
    }
}

impl From<BTreeMap<String, String>> for Variant {
    fn from(map: BTreeMap<String, String>) -> Variant {
        if map.is_empty() { Variant(None) } else { Variant(Some(map.into_iter().collect())) }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Variant {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Variant {
        let map: BTreeMap<String, String> = iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Variant::from(map)
    }
}

impl<K: Into<String>, V: Into<String>, const N: usize> From<[(K, V); N]> for Variant {
    fn from(pairs: [(K, V); N]) -> Variant {
        pairs.into_iter().collect()
    }
}

impl<'a> IntoIterator for &'a Variant {
    type Item = (&'a str, &'a str);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (String, String)>, fn(&'a (String, String)) -> (&'a str, &'a str)>;
    fn into_iter(self) -> Self::IntoIter {
        self.pairs().iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl fmt::Debug for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Variant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Variant {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Variant, D::Error> {
        BTreeMap::<String, String>::deserialize(deserializer).map(Variant::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_serializes_like_the_map_it_replaces() {
        let map: BTreeMap<String, String> =
            [("size".to_owned(), "L".to_owned()), ("colour".to_owned(), "red".to_owned())].into();
        let variant = Variant::from(map.clone());
        let json = serde_json::to_string(&variant).unwrap();
        assert_eq!(json, serde_json::to_string(&map).unwrap());
        assert_eq!(serde_json::from_str::<Variant>(&json).unwrap(), variant);
        assert_eq!(serde_json::from_str::<Variant>(r#"{"a":"1","a":"2"}"#).unwrap().get("a"), Some("2"));
        assert_eq!(serde_json::to_string(&Variant::new()).unwrap(), "{}");
        assert_eq!(serde_json::from_str::<Variant>("{}").unwrap(), Variant::new());
    }

    #[test]
    fn variant_equality_ignores_insertion_order_and_insert_replaces() {
        let mut a = Variant::new();
        assert_eq!(a.insert("size".into(), "M".into()), None);
        a.insert("colour".into(), "red".into());
        assert_eq!(a.insert("size".into(), "L".into()), Some("M".to_owned()));
        let b: Variant = [("colour", "red"), ("size", "L")].into();
        assert_eq!(a, b);
        assert_eq!(format!("{a:?}"), r#"{"colour": "red", "size": "L"}"#);
    }

    #[test]
    fn trimmed_is_trim_for_whitespace() {
        for s in ["", " ", "a", " a", "a ", "\u{a0}a\u{3000}", "\ta b\n", "é", " é ", "a\u{85}", "\x1fa"] {
            assert_eq!(s.trimmed(), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn trimmed_drops_invisible_characters_at_both_ends_only() {
        for blank in
            ["\u{200B}", "\u{200C}\u{200D}", "\u{2060}", "\u{FEFF}", " \u{200B}\u{3000}\u{FEFF} ", "\u{AD}\u{202E}"]
        {
            assert_eq!(blank.trimmed(), "", "{blank:?}");
        }
        assert_eq!("\u{200B}Li Lei\u{FEFF}".trimmed(), "Li Lei");
        assert_eq!("a\u{200D}b".trimmed(), "a\u{200D}b", "inside a value they stay");
    }

    #[test]
    fn text_compares_and_serializes_as_its_string() {
        let t = Text::from("Hangzhou");
        assert_eq!(t, "Hangzhou");
        assert_eq!("Hangzhou".to_owned(), t);
        assert_eq!(serde_json::to_string(&t).unwrap(), r#""Hangzhou""#);
        assert_eq!(serde_json::from_str::<Text>(r#""Hangzhou""#).unwrap(), t);
        assert_eq!(t.to_string(), "Hangzhou");
    }
}
