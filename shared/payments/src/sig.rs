//! HMAC signing and constant-time checking of hex signatures, shared by the adapters.

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};

pub(crate) fn hmac_sha256(key: &str, parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length works");
    parts.iter().for_each(|p| mac.update(p));
    mac
}

pub(crate) fn hmac_sha512(key: &str, parts: &[&[u8]]) -> Hmac<Sha512> {
    let mut mac = Hmac::<Sha512>::new_from_slice(key.as_bytes()).expect("any key length works");
    parts.iter().for_each(|p| mac.update(p));
    mac
}

/// The MAC as lowercase hex (what every provider here sends).
pub(crate) fn to_hex<M: Mac>(mac: M) -> String {
    hex(&mac.finalize().into_bytes())
}

/// Whether `signature` (hex, either case) is the MAC; the comparison is constant-time
/// (`verify_slice`). Non-hex input simply does not match.
pub(crate) fn matches<M: Mac + Clone>(mac: &M, signature: &str) -> bool {
    unhex(signature).is_some_and(|bytes| mac.clone().verify_slice(&bytes).is_ok())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0x0f)]])
        .map(char::from)
        .collect()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| Some(hex_value(pair[0])? << 4 | hex_value(pair[1])?))
        .collect()
}

pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_accepts_either_case() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00ABff"), Some(vec![0x00, 0xab, 0xff]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn a_signature_matches_only_its_own_mac() {
        let mac = hmac_sha256("key", &[b"message"]);
        let good = to_hex(mac.clone());
        assert!(matches(&mac, &good));
        assert!(matches(&mac, &good.to_uppercase()));
        assert!(!matches(&mac, &good[..62]));
        assert!(!matches(&hmac_sha256("key", &[b"messagf"]), &good));
    }
}
