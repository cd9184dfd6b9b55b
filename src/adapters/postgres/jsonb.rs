//! Stored forms written into a statement's parameters as binary `jsonb`, through the stores'
//! JSON writer ([`crate::stored::json`]: the same bytes as `tokio_postgres::types::Json`, with
//! timestamps formatted once instead of escaped a character at a time).

use std::error::Error;
use std::fmt;

use bytes::{BufMut, BytesMut};
use serde::Serialize;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::stored::json;

/// A value written as `jsonb` (or `json`), like `tokio_postgres::types::Json`.
#[derive(Debug)]
pub(super) struct Jsonb<T>(pub(super) T);

impl<T: Serialize + fmt::Debug> ToSql for Jsonb<T> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        if *ty == Type::JSONB {
            // The binary `jsonb` format's version.
            out.put_u8(1);
        }
        json::write(out.writer(), &self.0)?;
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB || *ty == Type::JSON
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_jsonb_version_byte_first() {
        let mut out = BytesMut::new();
        let written = Jsonb(&[1, 2]).to_sql(&Type::JSONB, &mut out);
        assert!(matches!(written, Ok(IsNull::No)));
        assert_eq!(&out[..], b"\x01[1,2]");
        let mut out = BytesMut::new();
        assert!(matches!(Jsonb(&[1, 2]).to_sql(&Type::JSON, &mut out), Ok(IsNull::No)));
        assert_eq!(&out[..], b"[1,2]");
        assert!(<Jsonb<u8> as ToSql>::accepts(&Type::JSON));
        assert!(!<Jsonb<u8> as ToSql>::accepts(&Type::TEXT));
    }

    #[test]
    fn a_refusing_value_is_an_error() {
        let mut out = BytesMut::new();
        assert!(Jsonb(Refuses).to_sql(&Type::JSONB, &mut out).is_err());
    }

    #[derive(Debug)]
    struct Refuses;

    impl Serialize for Refuses {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refused"))
        }
    }
}
