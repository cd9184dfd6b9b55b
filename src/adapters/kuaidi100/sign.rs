//! Kuaidi100's signatures: uppercase hex MD5 over concatenated strings, and the form encoding
//! its API and pushes use.

use md5::{Digest, Md5};

/// `MD5(parts…)` as uppercase hex, Kuaidi100's `sign`.
pub fn md5_upper(parts: &[&str]) -> String {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hasher.finalize().iter().map(|b| format!("{b:02X}")).collect()
}

/// True when `given` is `expected`, compared in time that does not depend on where they
/// differ (so a forger learns nothing from the answer's timing). Case is ignored: some
/// clients send lowercase hex.
pub fn same_sign(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    a.len() == b.len()
        && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x.to_ascii_uppercase() ^ y.to_ascii_uppercase())) == 0
}

/// `application/x-www-form-urlencoded` body of `pairs`.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode(&mut out, name);
        out.push('=');
        percent_encode(&mut out, value);
    }
    out
}

fn percent_encode(out: &mut String, value: &str) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'*') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// The value of `name` in a form-encoded `body`, decoded; `None` when it is absent or not
/// valid percent-encoded UTF-8.
pub fn form_value(body: &[u8], name: &str) -> Option<String> {
    body.split(|b| *b == b'&').find_map(|pair| {
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (pair.get(..at)?, pair.get(at + 1..)?),
            None => (pair, &[][..]),
        };
        (percent_decode(key)? == name).then(|| percent_decode(value)).flatten()
    })
}

fn percent_decode(raw: &[u8]) -> Option<String> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut rest = raw.iter();
    while let Some(&b) = rest.next() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hi = char::from(*rest.next()?).to_digit(16)?;
                let lo = char::from(*rest.next()?).to_digit(16)?;
                bytes.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            _ => bytes.push(b),
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_is_uppercase_hex() {
        // RFC 1321's test vector.
        assert_eq!(md5_upper(&["a", "bc"]), "900150983CD24FB0D6963F7D28E17F72");
    }

    #[test]
    fn signs_compare_whole_and_ignore_case() {
        assert!(same_sign("ABCD", "abcd"));
        assert!(!same_sign("ABCD", "ABCE"));
        assert!(!same_sign("ABCD", "ABC"));
    }

    #[test]
    fn form_round_trip() {
        let body = form_encode(&[("param", "{\"a\":\"在 途&=+\"}"), ("sign", "AB")]);
        assert_eq!(form_value(body.as_bytes(), "param").as_deref(), Some("{\"a\":\"在 途&=+\"}"));
        assert_eq!(form_value(body.as_bytes(), "sign").as_deref(), Some("AB"));
        assert_eq!(form_value(b"param=a+b%2", "param"), None);
        assert_eq!(form_value(b"x=1", "param"), None);
    }
}
