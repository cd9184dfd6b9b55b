//! Human-facing order numbers.
//!
//! An [`OrderNumber`] is what the buyer is told and reads back over the phone, so it is short,
//! avoids look-alike letters, and carries a check character: a mistyped number is rejected
//! instead of silently matching somebody else's order. The internal id stays the UUID in
//! [`crate::OrderId`]; the number is only a unique, typo-proof handle for people.
//!
//! # Format
//!
//! A number is a value below 2^50, written as 10 [Crockford base32] symbols (digits and upper-case
//! letters except `I`, `L`, `O`, `U`), most significant first, followed by one check symbol:
//! the value modulo 37, drawn from the same alphabet extended with `*`, `~`, `$`, `=`, `U`
//! for 32..=36. The canonical text groups the 11 symbols 4-4-3:
//!
//! ```text
//! 014D-2PF2-DBA
//! ^^^^ ^^^^ ^^   data (value, base32)
//!             ^  check (value mod 37)
//! ```
//!
//! Because the alphabet is in ASCII order and the width is fixed, the canonical text sorts
//! exactly like the value. Mod 37 is prime and larger than the alphabet, so every single-symbol
//! substitution and every swap of two adjacent symbols is detected.
//!
//! Parsing is forgiving where a person would be: lower case is accepted, hyphens and whitespace
//! are ignored, and `I`/`L` read as `1`, `O` as `0`.
//!
//! A number is not a secret: it roughly reveals when the order was placed and neighbouring
//! numbers are easy to guess, so knowing one must never grant access to an order.
//!
//! [Crockford base32]: https://www.crockford.com/base32.html

use std::cmp::Ordering as CmpOrdering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Symbols in an order number, not counting hyphens: 10 data symbols and 1 check symbol.
pub const SYMBOLS: usize = DATA_SYMBOLS + 1;

/// Length of the canonical text (`XXXX-XXXX-XXC`).
pub const CANONICAL_LEN: usize = SYMBOLS + 2;

/// Length of an order's reference at a payment provider ([`OrderNumber::provider_reference`]).
pub const PROVIDER_REFERENCE_LEN: usize = DATA_SYMBOLS;

/// Largest value an order number can hold (2^50 - 1: 10 symbols of 5 bits).
pub const MAX_VALUE: u64 = (1 << (5 * DATA_SYMBOLS)) - 1;

const DATA_SYMBOLS: usize = 10;
const CHECK_MODULUS: u64 = 37;

/// Crockford's encoding symbols (0..=31) followed by the check-only symbols (32..=36).
const ALPHABET: &[u8; 37] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";

/// Why a text or value was refused as an order number, or a generator could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OrderNumberError {
    /// Too few or too many symbols: one was probably dropped or typed twice.
    #[error(
        "an order number has {expected} characters (not counting hyphens and spaces) but \
         {found} were given; ask for the number again and check for a missing or doubled character"
    )]
    WrongLength {
        /// Symbols given (hyphens and whitespace not counted).
        found: usize,
        /// Symbols required ([`SYMBOLS`]).
        expected: usize,
    },
    /// A character that cannot appear at that place in an order number.
    #[error(
        "character {character:?} at position {position} cannot appear there in an order number; \
         order numbers use digits and the letters A-Z except I, L, O and U \
         (only the last character may also be one of * ~ $ = U)"
    )]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its 1-based position in the text as given (hyphens and spaces counted).
        position: usize,
    },
    /// The check character does not match: the number was mistyped or misheard.
    #[error(
        "the check character does not match, so the order number was mistyped; \
         ask the buyer to read it again"
    )]
    WrongCheck,
    /// The value does not fit in 10 base32 symbols.
    #[error("value {value} is too large for an order number; the largest is {max}")]
    ValueOutOfRange {
        /// The value given.
        value: u64,
        /// [`MAX_VALUE`].
        max: u64,
    },
    /// The node id of a [`TimeOrderedNumbers`] generator is too large.
    #[error("node id {node} is out of range; give each process a distinct id in 0..={max}")]
    NodeOutOfRange {
        /// The node id given.
        node: u8,
        /// [`TimeOrderedNumbers::MAX_NODE`].
        max: u8,
    },
}

/// A human-facing, check-protected order number such as `014D-2PF2-DBA`.
///
/// See the [module documentation](self) for the format.
///
/// ```
/// use orderflow::order_number::OrderNumber;
/// let n = OrderNumber::from_value(1234).unwrap();
/// assert_eq!(n.as_str(), "0000-0001-6JD");
/// assert_eq!(OrderNumber::parse("00000001 6jd").unwrap(), n);
/// assert!(OrderNumber::parse("0000-0001-6JE").is_err()); // wrong check character
/// ```
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderNumber {
    value: u64,
    /// Canonical text, kept so `as_str` can borrow; always ASCII.
    text: [u8; CANONICAL_LEN],
}

impl OrderNumber {
    /// The number holding `value`; refused above [`MAX_VALUE`] rather than truncated, because a
    /// truncated value would name a different order.
    pub fn from_value(value: u64) -> Result<OrderNumber, OrderNumberError> {
        if value > MAX_VALUE {
            return Err(OrderNumberError::ValueOutOfRange { value, max: MAX_VALUE });
        }
        Ok(OrderNumber { value, text: encode(value) })
    }

    /// The numeric value (what a store may keep in an integer column).
    pub const fn value(&self) -> u64 {
        self.value
    }

    /// The canonical text, e.g. `014D-2PF2-DBA`.
    pub fn as_str(&self) -> &str {
        // Always ASCII by construction; the fallback is unreachable but keeps us panic-free.
        std::str::from_utf8(&self.text).unwrap_or("")
    }

    /// The order's reference at a payment provider (the `out_trade_no` of WeChat Pay and of
    /// Alipay): the ten data symbols, without hyphens or check symbol, e.g. `014D2PF2DB` for
    /// `014D-2PF2-DBA`. Only digits and upper-case letters, always ten of them, so every
    /// provider accepts it (WeChat Pay: 6 to 32 of letters, digits, `_-|*`; Alipay: up to 64
    /// letters, digits and `_`), unlike the canonical text, whose hyphens Alipay refuses and
    /// whose check symbol can be one of `*~$=` that WeChat Pay refuses.
    /// [`OrderNumber::from_provider_reference`] maps it back exactly.
    pub fn provider_reference(&self) -> String {
        self.text.iter().filter(|&&b| b != b'-').take(DATA_SYMBOLS).map(|&b| char::from(b)).collect()
    }

    /// The number whose [`provider_reference`](Self::provider_reference) `reference` is.
    /// Strict, as it reads what a provider sends back: exactly ten data symbols in upper case.
    pub fn from_provider_reference(reference: &str) -> Result<OrderNumber, OrderNumberError> {
        let found = reference.chars().count();
        if found != DATA_SYMBOLS {
            return Err(OrderNumberError::WrongLength { found, expected: DATA_SYMBOLS });
        }
        let mut value = 0u64;
        for (index, character) in reference.chars().enumerate() {
            let symbol = u8::try_from(character)
                .ok()
                .and_then(|byte| ALPHABET.iter().take(32).position(|&s| s == byte))
                .ok_or(OrderNumberError::InvalidCharacter { character, position: index.saturating_add(1) })?;
            value = (value << 5) | symbol as u64;
        }
        OrderNumber::from_value(value)
    }

    /// Reads a number as a person typed it: case-insensitive, hyphens and whitespace ignored,
    /// `I`/`L` read as `1` and `O` as `0`. Never panics.
    pub fn parse(text: &str) -> Result<OrderNumber, OrderNumberError> {
        // (symbol value, character, 1-based position) of the first SYMBOLS symbols.
        let mut symbols = [(0u8, ' ', 0usize); SYMBOLS];
        let mut found = 0usize;
        for (index, character) in text.chars().enumerate() {
            if character == '-' || character.is_whitespace() {
                continue;
            }
            let position = index.saturating_add(1);
            let value = symbol_value(character).ok_or(OrderNumberError::InvalidCharacter { character, position })?;
            if let Some(slot) = symbols.get_mut(found) {
                *slot = (value, character, position);
            }
            found = found.saturating_add(1);
        }
        if found != SYMBOLS {
            return Err(OrderNumberError::WrongLength { found, expected: SYMBOLS });
        }

        let (data, check) = symbols.split_at(DATA_SYMBOLS);
        let mut value = 0u64;
        for &(symbol, character, position) in data {
            if u64::from(symbol) >= 32 {
                // A check-only symbol (`*~$=U`) in a data place.
                return Err(OrderNumberError::InvalidCharacter { character, position });
            }
            value = (value << 5) | u64::from(symbol);
        }
        let expected_check = value % CHECK_MODULUS;
        match check.first() {
            Some(&(symbol, _, _)) if u64::from(symbol) == expected_check => OrderNumber::from_value(value),
            _ => Err(OrderNumberError::WrongCheck),
        }
    }
}

/// The value (0..=36) of one symbol, accepting lower case and Crockford's aliases.
fn symbol_value(character: char) -> Option<u8> {
    let upper = match character.to_ascii_uppercase() {
        'I' | 'L' => '1',
        'O' => '0',
        other => other,
    };
    let byte = u8::try_from(upper).ok()?;
    ALPHABET.iter().position(|&symbol| symbol == byte).and_then(|index| u8::try_from(index).ok())
}

/// Canonical text of a value already known to be at most [`MAX_VALUE`].
fn encode(value: u64) -> [u8; CANONICAL_LEN] {
    let symbol = |index: u64| -> u8 {
        usize::try_from(index).ok().and_then(|index| ALPHABET.get(index)).copied().unwrap_or(b'?')
    };
    let mut text = [b'-'; CANONICAL_LEN];
    let data = (0..DATA_SYMBOLS).rev().map(|k| (value >> (5 * k)) & 31);
    let symbols = data.chain(std::iter::once(value % CHECK_MODULUS));
    // Skip the hyphens after the 4th and 8th symbols.
    let places = (0..CANONICAL_LEN).filter(|&place| place != 4 && place != 9);
    for (place, index) in places.zip(symbols) {
        if let Some(slot) = text.get_mut(place) {
            *slot = symbol(index);
        }
    }
    text
}

// Equality, hashing and order use the value only; the text is derived from it.
impl PartialEq for OrderNumber {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for OrderNumber {}

impl Hash for OrderNumber {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl PartialOrd for OrderNumber {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderNumber {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        self.value.cmp(&other.value)
    }
}

impl FromStr for OrderNumber {
    type Err = OrderNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderNumber::parse(s)
    }
}

impl TryFrom<String> for OrderNumber {
    type Error = OrderNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        OrderNumber::parse(&value)
    }
}

impl From<OrderNumber> for String {
    fn from(value: OrderNumber) -> Self {
        value.as_str().to_owned()
    }
}

impl fmt::Display for OrderNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for OrderNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrderNumber({})", self.as_str())
    }
}

/// Hands out fresh order numbers.
///
/// The engine calls this outside the pure core and passes the number in, so the core stays
/// deterministic. A generator only has to avoid collisions as far as it can see; the store's
/// unique constraint on the number is the final guard, and on a clash the engine retries with a
/// fresh number.
pub trait OrderNumberGenerator: Send + Sync {
    /// A number not handed out before by this generator, for an order placed at `now`.
    fn next_number(&self, now: DateTime<Utc>) -> OrderNumber;
}

/// The default generator: numbers are roughly ordered by time and never repeat within a process,
/// however many threads ask at once.
///
/// The value is `sequence << 4 | node`. The sequence is the millisecond since
/// 2025-01-01T00:00:00Z, except that it always moves past the last one issued: a burst within one
/// millisecond borrows the following milliseconds, so uniqueness never depends on the clock.
/// Times before 2025 count as 0 (no panic), and 46 bits of milliseconds last until about the year
/// 4250, after which sequences wrap around (and the store's unique constraint catches repeats).
///
/// Processes sharing one store should each get a distinct node id ([`with_node`]) so their
/// numbers come from disjoint spaces. Across processes (including one restarting right after a
/// burst, or two mistakenly sharing a node id) nothing here prevents a repeat: the store's unique
/// constraint is the final guard, and the engine retries with a fresh number.
///
/// ```
/// use chrono::Utc;
/// use orderflow::order_number::{OrderNumberGenerator, TimeOrderedNumbers};
/// let numbers = TimeOrderedNumbers::with_node(3).unwrap();
/// let now = Utc::now();
/// let (a, b) = (numbers.next_number(now), numbers.next_number(now));
/// assert!(a < b);
/// assert_eq!(a.value() & 0xF, 3);
/// ```
///
/// [`with_node`]: TimeOrderedNumbers::with_node
#[derive(Debug, Default)]
pub struct TimeOrderedNumbers {
    /// The smallest sequence not yet issued.
    next_free: AtomicU64,
    node: u8,
}

impl TimeOrderedNumbers {
    /// Bits of the value reserved for the node id.
    pub const NODE_BITS: u32 = 4;
    /// Largest node id (15).
    pub const MAX_NODE: u8 = (1 << Self::NODE_BITS) - 1;
    /// The origin of the millisecond count: 2025-01-01T00:00:00Z, in Unix milliseconds.
    pub const EPOCH_UNIX_MILLIS: i64 = 1_735_689_600_000;

    const SEQUENCE_MASK: u64 = MAX_VALUE >> Self::NODE_BITS;

    /// A generator for a single process (node id 0).
    pub const fn new() -> TimeOrderedNumbers {
        TimeOrderedNumbers { next_free: AtomicU64::new(0), node: 0 }
    }

    /// A generator for node `node` (0..=[`MAX_NODE`](Self::MAX_NODE)) of several processes
    /// sharing one store.
    pub const fn with_node(node: u8) -> Result<TimeOrderedNumbers, OrderNumberError> {
        if node > Self::MAX_NODE {
            return Err(OrderNumberError::NodeOutOfRange { node, max: Self::MAX_NODE });
        }
        Ok(TimeOrderedNumbers { next_free: AtomicU64::new(0), node })
    }

    /// This generator's node id.
    pub const fn node(&self) -> u8 {
        self.node
    }

    /// Milliseconds since the epoch, 0 before it, wrapped to the sequence width.
    fn sequence_at(now: DateTime<Utc>) -> u64 {
        let millis = now.timestamp_millis().saturating_sub(Self::EPOCH_UNIX_MILLIS);
        u64::try_from(millis).unwrap_or(0) & Self::SEQUENCE_MASK
    }
}

impl OrderNumberGenerator for TimeOrderedNumbers {
    fn next_number(&self, now: DateTime<Utc>) -> OrderNumber {
        let at = Self::sequence_at(now);
        // Relaxed is enough: uniqueness needs only the atomicity of the read-modify-write,
        // which every ordering guarantees on a single variable.
        let update = self.next_free.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |free| {
            Some((free.max(at).wrapping_add(1)) & Self::SEQUENCE_MASK)
        });
        let previous = match update {
            Ok(free) | Err(free) => free,
        };
        let sequence = previous.max(at);
        let value = (sequence << Self::NODE_BITS) | u64::from(self.node);
        // In range by construction (sequence <= SEQUENCE_MASK); the fallback keeps us panic-free.
        OrderNumber::from_value(value & MAX_VALUE).unwrap_or(OrderNumber { value: 0, text: encode(0) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn n(value: u64) -> OrderNumber {
        OrderNumber::from_value(value).unwrap()
    }

    /// The 11 symbols of a number without hyphens.
    fn symbols(number: &OrderNumber) -> Vec<char> {
        number.as_str().chars().filter(|&c| c != '-').collect()
    }

    #[test]
    fn known_vectors() {
        assert_eq!(n(0).as_str(), "0000-0000-000");
        assert_eq!(n(1).as_str(), "0000-0000-011");
        assert_eq!(n(31).as_str(), "0000-0000-0ZZ");
        assert_eq!(n(32).as_str(), "0000-0000-10*");
        assert_eq!(n(36).as_str(), "0000-0000-14U");
        assert_eq!(n(37).as_str(), "0000-0000-150");
        assert_eq!(n(1234).as_str(), "0000-0001-6JD");
        assert_eq!(n(0x123_4567_89AB).as_str(), "014D-2PF2-DBA");
        assert_eq!(n(MAX_VALUE).as_str(), "ZZZZ-ZZZZ-ZZX");
        assert_eq!(n(1234).to_string(), "0000-0001-6JD");
        assert_eq!(format!("{:?}", n(1234)), "OrderNumber(0000-0001-6JD)");
        assert_eq!(format!("{:>15}", n(1234)), "  0000-0001-6JD");
    }

    #[test]
    fn parse_is_forgiving_like_a_person() {
        let expected = n(0x123_4567_89AB);
        for text in [
            "014D-2PF2-DBA",
            "014d-2pf2-dba",
            "014D2PF2DBA",
            " 014D 2PF2 DBA\n",
            "O14D-2PF2-DBA",
            "o14D-2PF2-DBA",
            "014-D2P-F2D-BA",
            "014D\u{a0}2PF2\tDBA",
        ] {
            assert_eq!(OrderNumber::parse(text), Ok(expected), "{text:?}");
        }
        assert_eq!("0000-0000-011".parse::<OrderNumber>(), Ok(n(1)));
        assert_eq!(OrderNumber::parse("OOOO-OOOO-OIl"), Ok(n(1)));
        assert_eq!(OrderNumber::parse("0000-0000-14u"), Ok(n(36)));
    }

    #[test]
    fn wrong_length_is_reported() {
        for (text, found) in
            [("", 0), ("---  ", 0), ("0000-0000-01", 10), ("0000-0000-0111", 12), (&"0".repeat(1000), 1000)]
        {
            assert_eq!(
                OrderNumber::parse(text),
                Err(OrderNumberError::WrongLength { found, expected: SYMBOLS }),
                "{text:?}"
            );
        }
    }

    #[test]
    fn invalid_characters_are_reported_with_their_position() {
        let cases = [
            ("0000-0000-0#1", '#', 12),
            ("U000-0000-000", 'U', 1),
            ("0*00-0000-000", '*', 2),
            ("0000-0000-$00", '$', 11),
            ("#014D-2PF2-DBA", '#', 1),
            ("0000-0000-00\u{e9}", '\u{e9}', 13),
            ("０000-0000-000", '０', 1),
        ];
        for (text, character, position) in cases {
            assert_eq!(
                OrderNumber::parse(text),
                Err(OrderNumberError::InvalidCharacter { character, position }),
                "{text:?}"
            );
        }
    }

    #[test]
    fn wrong_check_is_reported() {
        assert_eq!(OrderNumber::parse("0000-0001-6JE"), Err(OrderNumberError::WrongCheck));
        assert_eq!(OrderNumber::parse("0000-0000-01*"), Err(OrderNumberError::WrongCheck));
    }

    #[test]
    fn values_beyond_fifty_bits_are_refused() {
        assert_eq!(
            OrderNumber::from_value(MAX_VALUE + 1),
            Err(OrderNumberError::ValueOutOfRange { value: MAX_VALUE + 1, max: MAX_VALUE })
        );
        assert!(OrderNumber::from_value(u64::MAX).is_err());
    }

    #[test]
    fn serde_uses_the_canonical_text() {
        let json = serde_json::to_string(&n(1234)).unwrap();
        assert_eq!(json, r#""0000-0001-6JD""#);
        assert_eq!(serde_json::from_str::<OrderNumber>(r#""00000001-6jd""#).unwrap(), n(1234));
        assert!(serde_json::from_str::<OrderNumber>(r#""0000-0001-6JE""#).is_err());
        assert!(serde_json::from_str::<OrderNumber>("1234").is_err());
    }

    #[test]
    fn text_order_matches_value_order() {
        let values = [0, 1, 31, 32, 1234, 0x123_4567_89AB, MAX_VALUE];
        for pair in values.windows(2) {
            let (a, b) = (n(pair[0]), n(pair[1]));
            assert!(a < b);
            assert!(a.as_str() < b.as_str());
        }
    }

    #[test]
    fn node_ids_are_checked() {
        assert_eq!(TimeOrderedNumbers::with_node(15).unwrap().node(), 15);
        assert_eq!(
            TimeOrderedNumbers::with_node(16).unwrap_err(),
            OrderNumberError::NodeOutOfRange { node: 16, max: 15 }
        );
        assert_eq!(TimeOrderedNumbers::new().node(), 0);
    }

    #[test]
    fn generator_follows_the_clock_and_never_repeats() {
        let numbers = TimeOrderedNumbers::with_node(5).unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let millis = u64::try_from(t0.timestamp_millis() - 1_735_689_600_000).unwrap();
        let first = numbers.next_number(t0);
        assert_eq!(first.value(), (millis << 4) | 5);
        // Same millisecond: the next sequence, same node.
        assert_eq!(numbers.next_number(t0).value(), ((millis + 1) << 4) | 5);
        // A clock going backwards does not cause a repeat.
        let earlier = numbers.next_number(t0 - chrono::Duration::hours(1));
        assert_eq!(earlier.value(), ((millis + 2) << 4) | 5);
        // Once the clock is ahead again, it is followed.
        let later = numbers.next_number(t0 + chrono::Duration::seconds(1));
        assert_eq!(later.value(), ((millis + 1000) << 4) | 5);
    }

    #[test]
    fn generator_survives_extreme_times() {
        let numbers = TimeOrderedNumbers::new();
        let before = Utc.with_ymd_and_hms(1999, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(numbers.next_number(before).value(), 0);
        assert_eq!(numbers.next_number(before).value(), 1 << 4);
        for now in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            let number = numbers.next_number(now);
            assert!(number.value() <= MAX_VALUE);
            assert_eq!(OrderNumber::parse(number.as_str()), Ok(number));
        }
        // Centuries of headroom: the year 4000 still fits without wrapping.
        let far = Utc.with_ymd_and_hms(4000, 1, 1, 0, 0, 0).unwrap();
        let millis = u64::try_from(far.timestamp_millis() - 1_735_689_600_000).unwrap();
        assert_eq!(TimeOrderedNumbers::new().next_number(far).value(), millis << 4);
    }

    const REPLACEMENTS: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=UabcdefghjkmnpqrstvwxyzuiloILO#";

    proptest! {
        #[test]
        fn round_trips(value in 0..=MAX_VALUE) {
            let number = n(value);
            prop_assert_eq!(number.value(), value);
            prop_assert_eq!(number.as_str().len(), CANONICAL_LEN);
            prop_assert_eq!(OrderNumber::parse(number.as_str()), Ok(number));
            prop_assert_eq!(OrderNumber::parse(&number.as_str().to_lowercase()), Ok(number));
            let json = serde_json::to_string(&number).unwrap();
            prop_assert_eq!(serde_json::from_str::<OrderNumber>(&json).unwrap(), number);
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = OrderNumber::parse(&text);
        }

        #[test]
        fn near_valid_text_never_panics(text in "[0-9A-Za-z*~$=# -]{0,20}") {
            if let Ok(number) = OrderNumber::parse(&text) {
                prop_assert_eq!(OrderNumber::parse(number.as_str()), Ok(number));
            }
        }

        #[test]
        fn every_single_substitution_is_rejected(
            value in 0..=MAX_VALUE,
            place in 0..SYMBOLS,
            replacement in proptest::sample::select(REPLACEMENTS.chars().collect::<Vec<_>>()),
        ) {
            let mut typed = symbols(&n(value));
            prop_assume!(symbol_value(typed[place]) != symbol_value(replacement));
            typed[place] = replacement;
            let typed: String = typed.into_iter().collect();
            prop_assert!(OrderNumber::parse(&typed).is_err(), "{} accepted", typed);
        }

        #[test]
        fn every_adjacent_transposition_is_rejected(value in 0..=MAX_VALUE, place in 0..SYMBOLS - 1) {
            let mut typed = symbols(&n(value));
            prop_assume!(typed[place] != typed[place + 1]);
            typed.swap(place, place + 1);
            let typed: String = typed.into_iter().collect();
            prop_assert!(OrderNumber::parse(&typed).is_err(), "{} accepted", typed);
        }
    }

    #[test]
    fn all_substitutions_and_transpositions_of_some_numbers_are_rejected() {
        // Exhaustive over positions and replacement symbols, for a spread of values.
        for value in [0, 1, 36, 1234, 0x123_4567_89AB, MAX_VALUE, MAX_VALUE / 3] {
            let original = symbols(&n(value));
            for place in 0..SYMBOLS {
                for replacement in REPLACEMENTS.chars() {
                    if symbol_value(original[place]) == symbol_value(replacement) {
                        continue;
                    }
                    let mut typed = original.clone();
                    typed[place] = replacement;
                    let typed: String = typed.into_iter().collect();
                    assert!(OrderNumber::parse(&typed).is_err(), "{typed} accepted");
                }
                if place + 1 < SYMBOLS && original[place] != original[place + 1] {
                    let mut typed = original.clone();
                    typed.swap(place, place + 1);
                    let typed: String = typed.into_iter().collect();
                    assert!(OrderNumber::parse(&typed).is_err(), "{typed} accepted");
                }
            }
        }
    }
}
