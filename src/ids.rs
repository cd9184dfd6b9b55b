//! Identifiers.
//!
//! Orders get a UUID v7 (time-ordered, so stores index them well); the pure core never
//! generates one itself, it receives it through `Ctx`. Lines, packages and
//! after-sales cases are numbered inside their order (1, 2, 3, ...), which keeps them
//! deterministic and short. Customer, staff and SKU ids belong to the host and are text.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most characters a host-supplied id (customer, staff, SKU, provider) may have.
pub const MAX_EXTERNAL_ID_LEN: usize = 64;

/// Why a text id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The id was empty.
    #[error("id must not be empty")]
    Empty,
    /// The id is longer than [`MAX_EXTERNAL_ID_LEN`].
    #[error("id is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// Characters given.
        len: usize,
        /// Characters allowed.
        max: usize,
    },
    /// The id contains whitespace or control characters.
    #[error("id must not contain whitespace or control characters")]
    BadCharacter,
}

pub(crate) fn check_external_id(value: &str) -> Result<(), IdError> {
    // Ids are almost always visible ASCII: one pass over the bytes settles it.
    if (1..=MAX_EXTERNAL_ID_LEN).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic()) {
        return Ok(());
    }
    let len = value.chars().count();
    if len == 0 {
        Err(IdError::Empty)
    } else if len > MAX_EXTERNAL_ID_LEN {
        Err(IdError::TooLong { len, max: MAX_EXTERNAL_ID_LEN })
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(IdError::BadCharacter)
    } else {
        Ok(())
    }
}

/// Text ids are shared, not copied: an order's customer id and SKUs are repeated in every
/// event, effect, notification and snapshot of the order, so a clone is a reference-count
/// increment instead of an allocation. Comparison, hashing and ordering are by text.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Arc<str>);

        impl $name {
            /// Checks and wraps a host-supplied id (1 to 64 characters, no whitespace).
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check_external_id(&value)?;
                Ok(Self(Arc::from(value)))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0.as_ref().to_owned()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

text_id!(
    /// The host's id of a buyer.
    CustomerId
);
text_id!(
    /// The host's id of a staff member.
    StaffId
);
text_id!(
    /// A stock-keeping unit: the host's product id.
    Sku
);

macro_rules! local_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
    };
}

local_id!(
    /// A line of an order, numbered from 1 in placement order.
    LineId,
    "L"
);
local_id!(
    /// A package (parcel) of an order, numbered from 1 as packages are packed.
    PackageId,
    "P"
);
local_id!(
    /// An after-sales case of an order, numbered from 1 as cases are opened.
    CaseId,
    "C"
);
local_id!(
    /// A refund of an order, numbered from 1 as refunds are requested.
    RefundId,
    "R"
);

/// The internal, globally unique id of an order (UUID v7).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(Uuid);

/// The UUID's byte order, compared as one big-endian integer: the stores' B-trees compare ids
/// on every lookup, and `Uuid`'s own ordering compares the bytes with a `memcmp` call.
impl Ord for OrderId {
    fn cmp(&self, other: &OrderId) -> std::cmp::Ordering {
        self.0.as_u128().cmp(&other.0.as_u128())
    }
}

impl PartialOrd for OrderId {
    fn partial_cmp(&self, other: &OrderId) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl OrderId {
    /// A fresh time-ordered id. Call this outside the pure core and pass it in `Ctx`.
    pub fn new_v7() -> OrderId {
        OrderId(Uuid::now_v7())
    }

    /// Wraps an existing UUID (e.g. read back from storage).
    pub const fn from_uuid(uuid: Uuid) -> OrderId {
        OrderId(uuid)
    }

    /// The underlying UUID.
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl std::str::FromStr for OrderId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(OrderId)
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrderId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn order_ids_order_as_their_uuids(a: [u8; 16], b: [u8; 16]) {
            let (x, y) = (Uuid::from_bytes(a), Uuid::from_bytes(b));
            proptest::prop_assert_eq!(OrderId(x).cmp(&OrderId(y)), x.cmp(&y));
        }
    }

    #[test]
    fn text_ids_are_checked() {
        assert_eq!(Sku::new(""), Err(IdError::Empty));
        assert_eq!(Sku::new("a b"), Err(IdError::BadCharacter));
        assert_eq!(Sku::new("x".repeat(65)), Err(IdError::TooLong { len: 65, max: 64 }));
        assert_eq!(Sku::new("TEA-001").unwrap().as_str(), "TEA-001");
        assert!(serde_json::from_str::<CustomerId>("\"\"").is_err());
    }

    #[test]
    fn order_ids_are_time_ordered() {
        let a = OrderId::new_v7();
        let b = OrderId::new_v7();
        assert!(a < b);
        assert_eq!(a.to_string().parse::<OrderId>().unwrap(), a);
    }
}
