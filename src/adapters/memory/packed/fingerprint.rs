//! 128-bit fingerprints of outbox and dedupe keys, so the store can remember every key it has
//! seen in 16 bytes instead of the key's text (up to 60 bytes or so, plus a `String` and its
//! allocation).
//!
//! A fingerprint is two SipHash-1-3 values of the key under one random 128-bit key chosen per
//! store, each over the key prefixed with a different domain byte. SipHash is a keyed
//! pseudorandom function, so on distinct inputs its values behave as independent random
//! numbers, and nobody outside the process knows the key to aim for a collision: among `n`
//! keys two share a fingerprint with probability below `n² / 2¹²⁹` (about 10⁻²⁶ for a
//! billion keys). A collision would make the store think an outbox entry was already
//! delivered, or a dedupe key already used.

use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

/// A fingerprint of an outbox key.
pub type Fingerprint = u128;

/// Makes fingerprints: one random SipHash key per store.
#[derive(Default)]
pub(super) struct Fingerprinter {
    keys: RandomState,
}

impl Fingerprinter {
    /// The fingerprint of `key`.
    pub(super) fn of(&self, key: &str) -> Fingerprint {
        let half = |domain: u8| {
            let mut hasher = self.keys.build_hasher();
            hasher.write_u8(domain);
            hasher.write(key.as_bytes());
            hasher.finish()
        };
        (u128::from(half(0)) << 64) | u128::from(half(1))
    }
}

/// Hashes a fingerprint by taking its low 64 bits: they are already uniformly random, so
/// hashing them again would only cost time.
#[derive(Debug, Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for other types than `u128`; fold the bytes in so it still works.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn write_u128(&mut self, n: u128) {
        // Truncation intended: the low half of a fingerprint.
        self.0 = n as u64;
    }
}

/// How sets and maps of fingerprints hash them.
pub type Hashing = BuildHasherDefault<PassThrough>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_share_a_fingerprint_and_different_keys_do_not() {
        let f = Fingerprinter::default();
        assert_eq!(f.of("a/notify/1.0/placed"), f.of("a/notify/1.0/placed"));
        let mut seen = std::collections::HashSet::<Fingerprint, Hashing>::default();
        for i in 0..10_000 {
            assert!(seen.insert(f.of(&format!("order/notify/{i}.0/placed"))));
        }
        assert!(seen.contains(&f.of("order/notify/42.0/placed")));
        assert!(!seen.contains(&f.of("order/notify/10000.0/placed")));
        // The two halves differ, so the fingerprint carries 128 bits, not 64 twice.
        let fp = f.of("x");
        assert_ne!(fp >> 64, fp & u128::from(u64::MAX));
    }
}
