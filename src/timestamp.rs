//! How timestamps are written by serde: for `#[serde(with = ...)]` on every `DateTime<Utc>`
//! field of events, orders and effects.
//!
//! * Human-readable formats (JSON: the durable stores' rows, HTTP bodies) get exactly chrono's
//!   own form, an RFC 3339 string, so their output does not change.
//! * Binary formats (MessagePack: the memory store's histories) get seconds since the Unix
//!   epoch as one integer, or `[seconds, nanoseconds]` when the time has a fraction of a
//!   second (or is a leap second). Chrono would write the RFC 3339 string there too: about 21
//!   to 31 bytes, against 5 for a whole second in this century and 11 with nanoseconds, and
//!   formatting it was two thirds of what encoding a history cost.
//!
//! Reading accepts all three forms whatever the format says of itself: serde reads the fields
//! of internally tagged enums through a buffer that always claims to be human-readable, so a
//! binary history would otherwise not read back. A JSON number is therefore read as seconds
//! since the epoch; the stores never write one.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Writes `at`: chrono's RFC 3339 string when the format is human-readable, else the seconds
/// since the epoch (an integer) or `[seconds, nanoseconds]`.
pub(crate) fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        return at.serialize(serializer);
    }
    match at.timestamp_subsec_nanos() {
        0 => serializer.serialize_i64(at.timestamp()),
        nanos => (at.timestamp(), nanos).serialize(serializer),
    }
}

/// Reads what [`serialize`] wrote, in any format.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    deserializer.deserialize_any(TimestampVisitor)
}

/// `Option<DateTime<Utc>>` fields (use with `#[serde(default)]`, which a missing field needs
/// once the field has its own deserializer).
pub(crate) mod option {
    use super::{Compact, Owned};
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `None` as chrono's `Option` does, `Some` as [`super::serialize`].
    pub(crate) fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => serializer.serialize_some(&Compact(at)),
            None => serializer.serialize_none(),
        }
    }

    /// Reads what [`serialize`] wrote.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(Option::<Owned>::deserialize(deserializer)?.map(|Owned(at)| at))
    }
}

/// `Vec<(K, DateTime<Utc>)>` fields: each pair as a two-element sequence, as serde writes a
/// tuple.
pub(crate) mod keyed {
    use super::{Compact, Owned};
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes the pairs, each time as [`super::serialize`].
    pub(crate) fn serialize<K: Serialize, S: Serializer>(
        pairs: &[(K, DateTime<Utc>)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(pairs.iter().map(|(key, at)| (key, Compact(at))))
    }

    /// Reads what [`serialize`] wrote.
    pub(crate) fn deserialize<'de, K: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<(K, DateTime<Utc>)>, D::Error> {
        let pairs = Vec::<(K, Owned)>::deserialize(deserializer)?;
        Ok(pairs.into_iter().map(|(key, Owned(at))| (key, at)).collect())
    }
}

/// A timestamp to write as [`serialize`] does, inside an `Option` or a sequence.
struct Compact<'a>(&'a DateTime<Utc>);

impl Serialize for Compact<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize(self.0, serializer)
    }
}

/// A timestamp read as [`deserialize`] does, inside an `Option` or a sequence.
struct Owned(DateTime<Utc>);

impl<'de> Deserialize<'de> for Owned {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Owned, D::Error> {
        deserialize(deserializer).map(Owned)
    }
}

struct TimestampVisitor;

impl TimestampVisitor {
    fn from_seconds<E: de::Error>(secs: i64, nanos: u32) -> Result<DateTime<Utc>, E> {
        DateTime::from_timestamp(secs, nanos)
            .ok_or_else(|| E::custom(format_args!("timestamp out of range: {secs} s {nanos} ns")))
    }
}

impl<'de> Visitor<'de> for TimestampVisitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 formatted date and time string, or seconds since the epoch")
    }

    /// Exactly as chrono reads the string form.
    fn visit_str<E: de::Error>(self, text: &str) -> Result<DateTime<Utc>, E> {
        DateTime::<Utc>::deserialize(de::value::StrDeserializer::<E>::new(text))
    }

    fn visit_i64<E: de::Error>(self, secs: i64) -> Result<DateTime<Utc>, E> {
        Self::from_seconds(secs, 0)
    }

    fn visit_u64<E: de::Error>(self, secs: u64) -> Result<DateTime<Utc>, E> {
        let secs = i64::try_from(secs).map_err(|_| E::custom(format_args!("timestamp out of range: {secs} s")))?;
        Self::from_seconds(secs, 0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DateTime<Utc>, A::Error> {
        let secs: i64 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let nanos: u32 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(3, &self));
        }
        Self::from_seconds(secs, nanos)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate, TimeZone, Utc};
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Plain {
        at: DateTime<Utc>,
        maybe: Option<DateTime<Utc>>,
        pairs: Vec<(u8, DateTime<Utc>)>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Compact {
        #[serde(with = "super")]
        at: DateTime<Utc>,
        #[serde(default, with = "super::option")]
        maybe: Option<DateTime<Utc>>,
        #[serde(with = "super::keyed")]
        pairs: Vec<(u8, DateTime<Utc>)>,
    }

    /// Fields inside an internally tagged enum are read through serde's buffer, which claims to
    /// be human-readable whatever the format.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type")]
    enum Tagged {
        Variant(Compact),
    }

    fn samples() -> Vec<DateTime<Utc>> {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .map(|t| t.and_utc());
        [
            Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).single(),
            DateTime::from_timestamp(1_780_000_000, 123_456_789),
            DateTime::from_timestamp(0, 0),
            DateTime::from_timestamp(-1, 999_999_999),
            Utc.with_ymd_and_hms(1601, 1, 1, 0, 0, 0).single(),
            DateTime::from_timestamp(-30_000_000_000, 1),
            // Beyond what i64 nanoseconds since the epoch can hold (1677 to 2262).
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single(),
            Some(DateTime::<Utc>::MIN_UTC),
            Some(DateTime::<Utc>::MAX_UTC),
            leap,
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    fn plain(at: DateTime<Utc>) -> Plain {
        Plain { at, maybe: Some(at), pairs: vec![(7, at), (8, at)] }
    }

    fn compact(at: DateTime<Utc>) -> Compact {
        Compact { at, maybe: Some(at), pairs: vec![(7, at), (8, at)] }
    }

    fn round_trip(at: DateTime<Utc>) -> Result<(), String> {
        let value = compact(at);
        let packed = rmp_serde::to_vec(&value).map_err(|e| e.to_string())?;
        let back: Compact = rmp_serde::from_slice(&packed).map_err(|e| e.to_string())?;
        if back != value {
            return Err(format!("{at:?}: MessagePack gave {back:?}"));
        }
        let tagged = Tagged::Variant(Compact { at, maybe: Some(at), pairs: vec![(1, at)] });
        let packed = rmp_serde::to_vec(&tagged).map_err(|e| e.to_string())?;
        let back: Tagged = rmp_serde::from_slice(&packed).map_err(|e| e.to_string())?;
        if back != tagged {
            return Err(format!("{at:?}: MessagePack in a tagged enum gave {back:?}"));
        }
        // JSON is exactly chrono's, both ways.
        let json = serde_json::to_string(&value).map_err(|e| e.to_string())?;
        let chrono_json = serde_json::to_string(&plain(at)).map_err(|e| e.to_string())?;
        if json != chrono_json {
            return Err(format!("{at:?}: JSON {json} is not chrono's {chrono_json}"));
        }
        let back: Compact = serde_json::from_str(&json).map_err(|e| e.to_string())?;
        if back != value {
            return Err(format!("{at:?}: JSON gave {back:?}"));
        }
        let back: Tagged = serde_json::from_str(&serde_json::to_string(&tagged).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        if back != tagged {
            return Err(format!("{at:?}: JSON in a tagged enum gave {back:?}"));
        }
        Ok(())
    }

    #[test]
    fn every_sample_round_trips_exactly_through_messagepack_and_json() {
        for at in samples() {
            assert_eq!(round_trip(at), Ok(()));
        }
    }

    #[test]
    fn messagepack_holds_whole_seconds_as_one_integer() -> Result<(), rmp_serde::encode::Error> {
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).single();
        let whole = rmp_serde::to_vec(&Compact { at: at.unwrap_or_default(), maybe: None, pairs: vec![] })?;
        // fixarray(3), uint32 seconds (5 bytes), nil, fixarray(0).
        assert_eq!(whole.len(), 1 + 5 + 1 + 1);
        let fraction = DateTime::from_timestamp(1_780_000_000, 123_456_789).unwrap_or_default();
        let with_nanos = rmp_serde::to_vec(&Compact { at: fraction, maybe: None, pairs: vec![] })?;
        // [seconds, nanoseconds]: fixarray(2), uint32, uint32.
        assert_eq!(with_nanos.len(), 1 + (1 + 5 + 5) + 1 + 1);
        Ok(())
    }

    #[test]
    fn json_of_none_and_missing_fields_is_as_before() -> Result<(), serde_json::Error> {
        let value = Compact { at: DateTime::<Utc>::UNIX_EPOCH, maybe: None, pairs: vec![] };
        let plain = Plain { at: DateTime::<Utc>::UNIX_EPOCH, maybe: None, pairs: vec![] };
        assert_eq!(serde_json::to_string(&value)?, serde_json::to_string(&plain)?);
        let missing: Compact = serde_json::from_str(r#"{"at":"1970-01-01T00:00:00Z","pairs":[]}"#)?;
        assert_eq!(missing, value);
        Ok(())
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(serde_json::from_str::<Compact>(r#"{"at":"yesterday","pairs":[]}"#).is_err());
        assert!(serde_json::from_str::<Compact>(r#"{"at":true,"pairs":[]}"#).is_err());
        assert!(serde_json::from_str::<Compact>(r#"{"at":[1,2,3],"pairs":[]}"#).is_err());
        assert!(serde_json::from_str::<Compact>(r#"{"at":[1],"pairs":[]}"#).is_err());
        assert!(serde_json::from_str::<Compact>(r#"{"at":18446744073709551615,"pairs":[]}"#).is_err());
        assert!(serde_json::from_str::<Compact>(r#"{"at":[9223372036854775807,0],"pairs":[]}"#).is_err());
        assert!(serde_json::from_str::<Compact>(r#"{"at":[0,2000000000],"pairs":[]}"#).is_err());
    }

    proptest! {
        #[test]
        fn any_time_round_trips_exactly(
            secs in DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp(),
            nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000],
        ) {
            if let Some(at) = DateTime::from_timestamp(secs, nanos) {
                prop_assert_eq!(round_trip(at), Ok(()));
            }
        }
    }
}
