//! Stored forms written as JSON, with each string a value makes through [`fmt::Display`]
//! (every `DateTime`, through chrono's `collect_str`) formatted once into a buffer and escaped
//! once, instead of escaped a character at a time. Every durable store writes through it: the
//! text the SQLite store keeps ([`to_string`]) and the binary `jsonb` the PostgreSQL store
//! sends ([`write`]).
//!
//! `serde_json`'s `collect_str` hands each piece a `Display` writes to its escaper; chrono
//! writes a timestamp a character at a time, so every timestamp of a snapshot went through
//! about 25 escaper calls (the callgrind profile in BENCHMARKS.md, issue 22 item 5: a third of
//! the snapshot's encoding). The bytes written are `serde_json`'s: the same serializer, only the
//! strings' route to it changes.

use std::fmt::{self, Display, Write as _};
use std::io;

use serde::ser::{
    Serialize, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant, SerializeTuple,
    SerializeTupleStruct, SerializeTupleVariant, Serializer,
};

/// Writes `value` as JSON into `out`.
pub(crate) fn write<W: io::Write, T: Serialize + ?Sized>(out: W, value: &T) -> serde_json::Result<()> {
    value.serialize(Buffered(&mut serde_json::Serializer::new(out)))
}

/// `value` as JSON text.
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(256);
    write(&mut out, value)?;
    // `serde_json` writes UTF-8 only.
    String::from_utf8(out).map_err(<serde_json::Error as serde::ser::Error>::custom)
}

/// The longest displayed string kept on the stack; a longer one takes the serializer's own
/// route.
const BUFFER: usize = 64;

/// A string being displayed, on the stack.
struct Small {
    bytes: [u8; BUFFER],
    len: usize,
}

impl fmt::Write for Small {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }

    /// chrono writes a time a character at a time: an ASCII one is one byte, stored directly.
    fn write_char(&mut self, c: char) -> fmt::Result {
        if !c.is_ascii() {
            return self.write_str(c.encode_utf8(&mut [0; 4]));
        }
        let slot = self.bytes.get_mut(self.len).ok_or(fmt::Error)?;
        *slot = c as u8;
        self.len += 1;
        Ok(())
    }
}

impl Small {
    /// What `value` displays, when it fits.
    fn display<T: Display + ?Sized>(value: &T) -> Option<Small> {
        let mut small = Small { bytes: [0; BUFFER], len: 0 };
        write!(small, "{value}").ok()?;
        Some(small)
    }

    fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.bytes.get(..self.len)?).ok()
    }
}

/// A serializer passing everything to `S`, and every value inside to `S`'s inner serializers
/// through itself, but `collect_str`, which formats into [`Small`] first.
struct Buffered<S>(S);

/// A value serialized through [`Buffered`].
struct Inner<'a, T: ?Sized>(&'a T);

impl<T: Serialize + ?Sized> Serialize for Inner<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Buffered(serializer))
    }
}

/// Passes each listed method to the wrapped serializer unchanged.
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $method(self, $($arg: $ty),*) -> Result<S::Ok, S::Error> {
            self.0.$method($($arg),*)
        })*
    };
}

impl<S: Serializer> Serializer for Buffered<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Buffered<S::SerializeSeq>;
    type SerializeTuple = Buffered<S::SerializeTuple>;
    type SerializeTupleStruct = Buffered<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Buffered<S::SerializeTupleVariant>;
    type SerializeMap = Buffered<S::SerializeMap>;
    type SerializeStruct = Buffered<S::SerializeStruct>;
    type SerializeStructVariant = Buffered<S::SerializeStructVariant>;

    forward! {
        serialize_bool(v: bool);
        serialize_i8(v: i8);
        serialize_i16(v: i16);
        serialize_i32(v: i32);
        serialize_i64(v: i64);
        serialize_i128(v: i128);
        serialize_u8(v: u8);
        serialize_u16(v: u16);
        serialize_u32(v: u32);
        serialize_u64(v: u64);
        serialize_u128(v: u128);
        serialize_f32(v: f32);
        serialize_f64(v: f64);
        serialize_char(v: char);
        serialize_str(v: &str);
        serialize_bytes(v: &[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(&Inner(value))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, &Inner(value))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_variant(name, index, variant, &Inner(value))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.0.serialize_seq(len).map(Buffered)
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        self.0.serialize_tuple(len).map(Buffered)
    }

    fn serialize_tuple_struct(self, name: &'static str, len: usize) -> Result<Self::SerializeTupleStruct, S::Error> {
        self.0.serialize_tuple_struct(name, len).map(Buffered)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        self.0.serialize_tuple_variant(name, index, variant, len).map(Buffered)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        self.0.serialize_map(len).map(Buffered)
    }

    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Self::SerializeStruct, S::Error> {
        self.0.serialize_struct(name, len).map(Buffered)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        self.0.serialize_struct_variant(name, index, variant, len).map(Buffered)
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        match Small::display(value).as_ref().and_then(Small::as_str) {
            Some(text) => self.0.serialize_str(text),
            None => self.0.collect_str(value),
        }
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// The compound serializers but the map's: each value inside goes through [`Buffered`].
/// (`skip_field` keeps its default, which `serde_json` does not override.)
macro_rules! compound {
    ($($trait:ident::$method:ident($($key:ident: $key_type:ty)?);)*) => {$(
        impl<S: $trait> $trait for Buffered<S> {
            type Ok = S::Ok;
            type Error = S::Error;

            fn $method<T: Serialize + ?Sized>(&mut self, $($key: $key_type,)? value: &T) -> Result<(), S::Error> {
                self.0.$method($($key,)? &Inner(value))
            }

            fn end(self) -> Result<S::Ok, S::Error> {
                self.0.end()
            }
        }
    )*};
}

compound! {
    SerializeSeq::serialize_element();
    SerializeTuple::serialize_element();
    SerializeTupleStruct::serialize_field();
    SerializeTupleVariant::serialize_field();
    SerializeStruct::serialize_field(key: &'static str);
    SerializeStructVariant::serialize_field(key: &'static str);
}

impl<S: SerializeMap> SerializeMap for Buffered<S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), S::Error> {
        self.0.serialize_key(&Inner(key))
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        self.0.serialize_value(&Inner(value))
    }

    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), S::Error> {
        self.0.serialize_entry(&Inner(key), &Inner(value))
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Order;
    use crate::testing::{Scenario, sample_form};
    use chrono::{TimeZone, Utc};

    /// What [`write`] writes for `value`.
    fn written<T: Serialize>(value: T) -> Vec<u8> {
        let mut out = Vec::new();
        let written = write(&mut out, &value);
        assert!(written.is_ok(), "{:?}", written.err());
        out
    }

    #[test]
    fn writes_the_same_bytes_as_serde_json() {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 5, 34, 35).single().unwrap_or_else(|| panic!("a valid time"));
        let order = placed_order();
        for value in [
            serde_json::to_value(at).unwrap_or_default(),
            serde_json::to_value(at + chrono::TimeDelta::nanoseconds(123_456_789)).unwrap_or_default(),
        ] {
            assert_eq!(written(&value), serde_json::to_vec(&value).unwrap_or_default());
        }
        assert_eq!(written(at), serde_json::to_vec(&at).unwrap_or_default());
        let fraction = at + chrono::TimeDelta::microseconds(1_500);
        assert_eq!(written(fraction), serde_json::to_vec(&fraction).unwrap_or_default());
        assert_eq!(written(&order), serde_json::to_vec(&order).unwrap_or_default());
        assert_eq!(to_string(&order).ok(), serde_json::to_string(&order).ok());
        // A string longer than the buffer, with characters to escape, takes the long route.
        let long = format!("{}\"\n{}", "é".repeat(BUFFER), "x".repeat(BUFFER));
        assert_eq!(written(Shown(&long)), serde_json::to_vec(&Shown(&long)).unwrap_or_default());
        assert_eq!(written(Shown("a\"b")), serde_json::to_vec(&Shown("a\"b")).unwrap_or_default());
        assert_eq!(written(Shown("é\\ü\u{1}")), serde_json::to_vec(&Shown("é\\ü\u{1}")).unwrap_or_default());
    }

    #[test]
    fn a_refusing_value_is_an_error() {
        assert!(to_string(&Refuses).is_err());
    }

    fn placed_order() -> Order {
        Scenario::placed(sample_form("alice")).order().clone()
    }

    /// Serialized through `collect_str`, as chrono serializes a time.
    struct Shown<'a>(&'a str);

    impl Serialize for Shown<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_str(self.0)
        }
    }

    struct Refuses;

    impl Serialize for Refuses {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refused"))
        }
    }
}
