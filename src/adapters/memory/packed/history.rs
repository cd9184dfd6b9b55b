//! An order's history kept encoded, as MessagePack, instead of as a vector of [`Event`]s.
//!
//! A stored order's fifteen or so events took about 6 KiB as values (160 bytes inline each,
//! plus the heap of their drafts, lines, strings and ids) and are read back only for timelines
//! and audits, never by the engine's commands. Encoded they take under a quarter of that
//! (timestamps are chrono's RFC 3339 strings: the domain's serde is plain). Each commit
//! encodes only its own new events (into a reused buffer, then appended); a history's spare
//! capacity is given back when its order goes cold. The price is time: see BENCHMARKS.md.
//!
//! MessagePack rather than a smaller binary format (postcard, bincode): the event types use
//! internally tagged enums (`#[serde(tag = ...)]`), which only self-describing formats can
//! read back; `rmp_serde`'s default writes structs as arrays, without field names. Reads
//! decode the whole history and return exactly the events written (the conformance suite
//! checks it).

use std::borrow::Cow;
use std::sync::LazyLock;

use crate::event::Event;
use crate::ports::store::StoreError;

/// The encoded events of one order, back to back: first a packed part (the events it held
/// when its order last went cold, LZ4-compressed), then the events added since, as written.
///
/// Both parts share one allocation. Packing happens when the order goes cold, so the commits
/// of an order in flight only append, and a cold order's history costs about 60 % of its
/// MessagePack size.
#[derive(Default)]
pub(super) struct History {
    bytes: Vec<u8>,
    /// How many of `bytes`, from the start, are packed.
    packed: u32,
    /// The length of the packed part once unpacked.
    unpacked: u32,
}

/// Words that every order's history repeats (MessagePack writes them as strings: event
/// types, actors, roles, deadline and tracking kinds, payment methods, currencies), each as
/// MessagePack writes it, length byte included. LZ4 refers to them instead of storing them:
/// a lifecycle's history packs to about 850 bytes with them, about 1,000 without.
/// Changing the list makes histories packed before unreadable, which an in-memory store
/// never has to read.
const WORDS: &[&str] = &[
    // Event types (`Change`, all of them; a test checks).
    "order_placed",
    "review_approved",
    "review_held",
    "hold_resolved",
    "review_rejected",
    "payment_session_opened",
    "payment_captured",
    "payment_anomaly_recorded",
    "refund_requested",
    "refund_completed",
    "refund_failed",
    "pick_list_issued",
    "package_packed",
    "shipment_booked",
    "package_shipped",
    "carrier_corrected",
    "tracking_recorded",
    "cod_collected",
    "receipt_confirmed",
    "order_cancelled",
    "after_sales_window_closed",
    "follow_up_due",
    "deadline_set",
    "case_opened",
    "case_approved",
    "case_rejected",
    "case_withdrawn",
    "return_parcel_recorded",
    "return_tracking_recorded",
    "return_received",
    "return_inspected",
    "replacement_packed",
    "repair_returned",
    "case_assigned",
    "case_resolved",
    "case_closed",
    "case_escalated",
    "case_follow_up_due",
    "case_follow_up_recorded",
    "follow_up_recorded",
    // Actors and roles.
    "buyer",
    "staff",
    "system",
    "payment_provider",
    "carrier",
    "admin",
    "customer_service",
    "reviewer",
    "warehouse",
    "automatic review",
    // Deadlines, tracking, payment.
    "pay_by",
    "auto_confirm",
    "after_sales_window",
    "follow_up",
    "case_sla",
    "case_follow_up",
    "picked_up",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "exception",
    "refused_at_door",
    "returned_to_sender",
    "online",
    "cash_on_delivery",
    "gateway",
    "manual",
    // Currencies.
    "CNY",
    "USD",
    "EUR",
    "GBP",
    "JPY",
    "HKD",
];

/// [`WORDS`] as MessagePack strings, back to back: the LZ4 dictionary (for snapshots too).
static DICTIONARY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut dictionary = Vec::new();
    for word in WORDS {
        // Infallible: writing to a vector.
        let _ = rmp_serde::encode::write(&mut dictionary, word);
    }
    dictionary
});

/// LZ4-compresses `plain` with the [`DICTIONARY`] into `scratch` (resized to fit); returns the
/// compressed length, or `None` when LZ4 refuses.
pub(super) fn compress(plain: &[u8], scratch: &mut Vec<u8>) -> Option<usize> {
    scratch.resize(lz4_flex::block::get_maximum_output_size(plain.len()), 0);
    let packed_len = lz4_flex::block::compress_into_with_dict(plain, scratch, &DICTIONARY).ok()?;
    scratch.truncate(packed_len);
    Some(packed_len)
}

/// Reverses [`compress`]: `packed` unpacks to exactly `unpacked` bytes, or the stored `what`
/// (history, snapshot) is reported damaged.
pub(super) fn decompress(packed: &[u8], unpacked: u32, what: &str) -> Result<Vec<u8>, StoreError> {
    let unpacked = usize::try_from(unpacked).unwrap_or(usize::MAX);
    // LZ4 expands at most about 255 times: a larger claim is damage, not worth allocating.
    if unpacked / 255 > packed.len().saturating_add(16) {
        return Err(StoreError::Corrupt(format!("stored {what} claims an impossible unpacked length")));
    }
    let plain = lz4_flex::block::decompress_with_dict(packed, unpacked, &DICTIONARY)
        .map_err(|e| StoreError::Corrupt(format!("stored {what} cannot be unpacked: {e}")))?;
    if plain.len() != unpacked {
        return Err(StoreError::Corrupt(format!("stored {what} unpacks to the wrong length")));
    }
    Ok(plain)
}

impl History {
    /// Encodes `events` into `buf` (cleared first), ready for [`History::push`]. Done before
    /// anything is written, so a commit that cannot be encoded changes nothing.
    pub(super) fn encode(events: &[Event], buf: &mut Vec<u8>) -> Result<(), StoreError> {
        buf.clear();
        for event in events {
            rmp_serde::encode::write(buf, event)
                .map_err(|e| StoreError::Corrupt(format!("event {} cannot be encoded: {e}", event.seq)))?;
        }
        Ok(())
    }

    /// Appends events encoded by [`History::encode`]. The buffer grows by doubling, as a
    /// vector does: growing it exactly reallocated and copied the whole history on every commit.
    pub(super) fn push(&mut self, encoded: &[u8]) {
        self.bytes.extend_from_slice(encoded);
    }

    /// Packs the whole history and gives back the spare capacity, when the order goes cold.
    /// A history with nothing added since it was last packed (an order only read while hot)
    /// is left as it is, as is one that packing would not make smaller (or whose packed part
    /// cannot be read, which `decode` then reports). `scratch` is LZ4's output buffer, kept
    /// by the caller between calls so that packing allocates only the result.
    pub(super) fn pack(&mut self, scratch: &mut Vec<u8>) {
        let nothing_new = usize::try_from(self.packed).is_ok_and(|packed| packed == self.bytes.len());
        if !nothing_new && let Some((packed, unpacked)) = self.pack_into(scratch) {
            self.packed = packed;
            self.unpacked = unpacked;
            self.bytes = scratch.clone();
        }
        self.bytes.shrink_to_fit();
    }

    /// Packs the whole history into `scratch`, and returns its packed and unpacked lengths
    /// when that is smaller than now.
    fn pack_into(&self, scratch: &mut Vec<u8>) -> Option<(u32, u32)> {
        let plain = self.plain().ok()?;
        let unpacked = u32::try_from(plain.len()).ok()?;
        let packed_len = compress(&plain, scratch)?;
        (packed_len < self.bytes.len()).then_some((u32::try_from(packed_len).ok()?, unpacked))
    }

    /// The whole history as MessagePack: the packed part unpacked, then the rest (borrowed
    /// when nothing is packed).
    fn plain(&self) -> Result<Cow<'_, [u8]>, StoreError> {
        let split = usize::try_from(self.packed).unwrap_or(usize::MAX);
        let (Some(packed), Some(tail)) = (self.bytes.get(..split), self.bytes.get(split..)) else {
            return Err(StoreError::Corrupt("stored history is shorter than its packed part".into()));
        };
        if packed.is_empty() {
            return Ok(Cow::Borrowed(tail));
        }
        let mut plain = decompress(packed, self.unpacked, "history")?;
        plain.extend_from_slice(tail);
        Ok(Cow::Owned(plain))
    }

    /// Every event, in order.
    pub(super) fn decode(&self) -> Result<Vec<Event>, StoreError> {
        let plain = self.plain()?;
        let mut rest: &[u8] = &plain;
        let mut events = Vec::new();
        while !rest.is_empty() {
            let event: Event = rmp_serde::from_read(&mut rest).map_err(|e| {
                StoreError::Corrupt(format!("stored event {} cannot be decoded: {e}", events.len() + 1))
            })?;
            events.push(event);
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::conformance::sample_order;
    use crate::testing::t0;

    fn history_of(events: &[Event]) -> History {
        let mut buf = Vec::new();
        let mut history = History::default();
        for event in events {
            History::encode(std::slice::from_ref(event), &mut buf).unwrap_or_else(|e| panic!("encode: {e}"));
            history.push(&buf);
        }
        history
    }

    #[test]
    fn every_event_type_is_a_dictionary_word() {
        // serde names every variant it expects when it meets an unknown one.
        let error = serde_json::from_str::<crate::event::Change>(r#"{"type":"?"}"#).err().map(|e| e.to_string());
        let message = error.unwrap_or_default();
        let names: Vec<&str> = message.split('`').skip(3).step_by(2).collect();
        assert!(names.len() > 30, "variants read from {message:?}");
        for name in names {
            assert!(WORDS.contains(&name), "{name} is not in WORDS");
        }
    }

    #[test]
    fn a_history_reads_back_the_same_packed_repacked_and_grown() {
        let (_, events) = sample_order("alice", 1, t0());
        let (first, rest) = events.split_at(1);
        let mut history = history_of(first);
        history.pack(&mut Vec::new());
        assert_eq!(history.decode().ok().as_deref(), Some(first));
        let mut buf = Vec::new();
        History::encode(rest, &mut buf).unwrap_or_else(|e| panic!("encode: {e}"));
        history.push(&buf);
        assert_eq!(history.decode().ok().as_deref(), Some(&events[..]));
        history.pack(&mut Vec::new());
        assert_eq!(history.decode().ok().as_deref(), Some(&events[..]));
        history.pack(&mut Vec::new()); // packing twice changes nothing
        assert_eq!(history.decode().ok().as_deref(), Some(&events[..]));
    }

    #[test]
    fn packing_makes_a_history_smaller() {
        let (_, events) = sample_order("alice", 1, t0());
        let mut history = history_of(&events);
        let plain = history.bytes.len();
        history.pack(&mut Vec::new());
        assert!(history.packed > 0 && history.bytes.len() < plain, "{} -> {}", plain, history.bytes.len());
        assert_eq!(history.bytes.capacity(), history.bytes.len());
    }

    #[test]
    fn a_damaged_packed_part_is_reported_not_a_panic() {
        let (_, events) = sample_order("alice", 1, t0());
        let mut history = history_of(&events);
        history.pack(&mut Vec::new());
        for byte in history.bytes.iter_mut().skip(4).step_by(7) {
            *byte ^= 0x5a;
        }
        // Damaged bytes may still unpack to something; what matters is an answer, not a panic.
        assert!(matches!(history.decode(), Err(StoreError::Corrupt(_)) | Ok(_)));
        history.unpacked = u32::MAX;
        assert!(matches!(history.decode(), Err(StoreError::Corrupt(_))));
        history.packed = u32::MAX;
        assert!(matches!(history.decode(), Err(StoreError::Corrupt(_))));
    }
}
