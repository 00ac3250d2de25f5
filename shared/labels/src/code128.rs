//! Code 128 encoder (ISO/IEC 15417): text → symbol values → modules.
//!
//! [`encode`] turns printable ASCII (32–126) into the sequence of symbol values a scanner reads:
//! a start code, the data, the modulo-103 checksum and the stop code. Characters are encoded in
//! code set B (value = ASCII − 32); runs of digits long enough to save space are packed two per
//! symbol in code set C. [`modules`] expands the values into dark/light modules through the
//! [`PATTERNS`] table, which is what the PDF layout draws.

use crate::LabelError;

/// Start code for code set B.
pub(crate) const START_B: u8 = 104;
/// Start code for code set C.
pub(crate) const START_C: u8 = 105;
/// In code set B: switch to code set C.
pub(crate) const CODE_C: u8 = 99;
/// In code set C: switch to code set B.
pub(crate) const CODE_B: u8 = 100;
/// The stop code (its pattern is the only one with 7 elements, 13 modules).
pub(crate) const STOP: u8 = 106;

/// Element widths (in modules) of every symbol value 0–106, alternating bar, space, bar, …,
/// starting with a bar. Values 0–105 have 6 elements (11 modules); the stop code 106 has 7
/// (13 modules, the trailing 2-module bar is the termination bar).
#[rustfmt::skip]
pub(crate) const PATTERNS: [&[u8]; 107] = [
    b"212222", b"222122", b"222221", b"121223", b"121322", b"131222", b"122213", b"122312", // 0
    b"132212", b"221213", b"221312", b"231212", b"112232", b"122132", b"122231", b"113222", // 8
    b"123122", b"123221", b"223211", b"221132", b"221231", b"213212", b"223112", b"312131", // 16
    b"311222", b"321122", b"321221", b"312212", b"322112", b"322211", b"212123", b"212321", // 24
    b"232121", b"111323", b"131123", b"131321", b"112313", b"132113", b"132311", b"211313", // 32
    b"231113", b"231311", b"112133", b"112331", b"132131", b"113123", b"113321", b"133121", // 40
    b"313121", b"211331", b"231131", b"213113", b"213311", b"213131", b"311123", b"311321", // 48
    b"331121", b"312113", b"312311", b"332111", b"314111", b"221411", b"431111", b"111224", // 56
    b"111422", b"121124", b"121421", b"141122", b"141221", b"112214", b"112412", b"122114", // 64
    b"122411", b"142112", b"142211", b"241211", b"221114", b"413111", b"241112", b"134111", // 72
    b"111242", b"121142", b"121241", b"114212", b"124112", b"124211", b"411212", b"421112", // 80
    b"421211", b"212141", b"214121", b"412121", b"111143", b"111341", b"131141", b"114113", // 88
    b"114311", b"411113", b"411311", b"113141", b"114131", b"311141", b"411131", b"211412", // 96
    b"211214", b"211232", b"2331112",                                                       // 104
];

/// The code set a run of characters is encoded in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Set {
    B,
    C,
}

/// Encodes `text` as Code 128 symbol values: start code, data, checksum, stop code.
///
/// Every character must be printable ASCII (32–126); the first one that is not gives
/// [`LabelError::NotEncodable`] with its index (a char index, which is also its byte index,
/// since everything before it is ASCII). Code set B is used, except for runs of digits where
/// code set C is shorter: 4 or more digits at the start or end of the text, 6 or more in the
/// middle, or a text of exactly 2 digits (an odd digit left over is encoded in set B). An
/// empty text encodes to a valid, data-less symbol.
pub(crate) fn encode(text: &str) -> Result<Vec<u8>, LabelError> {
    if let Some(position) = text.chars().position(|c| !(' '..='~').contains(&c)) {
        return Err(LabelError::NotEncodable { position });
    }
    let bytes = text.as_bytes();

    let mut values = Vec::with_capacity(bytes.len() + 4);
    let mut current = None;
    for (set, range) in segments(bytes) {
        values.push(match (current, set) {
            (None, Set::B) => START_B,
            (None, Set::C) => START_C,
            (Some(Set::B), Set::C) => CODE_C,
            // Segments alternate, so the only case left is C → B.
            _ => CODE_B,
        });
        current = Some(set);
        let chunk = &bytes[range];
        match set {
            Set::B => values.extend(chunk.iter().map(|b| b - b' ')),
            Set::C => values.extend(chunk.chunks(2).map(|p| (p[0] - b'0') * 10 + (p[1] - b'0'))),
        }
    }
    if current.is_none() {
        values.push(START_B);
    }

    // Checksum: the start code with weight 1, then each following symbol with its position.
    let sum = values
        .iter()
        .enumerate()
        .map(|(i, &v)| i.max(1) * usize::from(v))
        .fold(0usize, |acc, x| (acc + x) % 103);
    values.push(u8::try_from(sum).unwrap_or(0)); // always < 103
    values.push(STOP);
    Ok(values)
}

/// Splits ASCII `bytes` into alternating code-set segments (ranges into `bytes`): a digit run
/// becomes a set-C segment when packing it in pairs saves symbols after paying for the switch
/// codes in and out (a switch in at the very start is the start code, free; none is needed
/// out at the very end).
fn segments(bytes: &[u8]) -> Vec<(Set, std::ops::Range<usize>)> {
    let n = bytes.len();
    let mut segments = Vec::new();
    let mut b_from = 0; // start of the pending set-B characters
    let mut i = 0;
    while i < n {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let end = i + bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let even = (end - i) & !1;
        // An odd digit out goes after the pairs at the start of the text, before them elsewhere.
        let (c_from, c_to) = if i == 0 { (0, even) } else { (end - even, end) };
        let cost_c = even / 2 + usize::from(c_from != 0) + usize::from(c_to != n);
        if even >= 2 && cost_c < even {
            if b_from < c_from {
                segments.push((Set::B, b_from..c_from));
            }
            segments.push((Set::C, c_from..c_to));
            b_from = c_to;
        }
        i = end;
    }
    if b_from < n {
        segments.push((Set::B, b_from..n));
    }
    segments
}

/// Expands symbol values into modules, `true` = dark, without quiet zones: 11 modules per
/// symbol, 13 for the stop code. Values above 106 (which [`encode`] never produces) are skipped.
pub(crate) fn modules(values: &[u8]) -> Vec<bool> {
    let mut out = Vec::with_capacity(values.len() * 11 + 2);
    for pattern in values.iter().filter_map(|&v| PATTERNS.get(usize::from(v))) {
        for (k, w) in pattern.iter().enumerate() {
            let dark = k % 2 == 0;
            out.extend(std::iter::repeat_n(dark, usize::from(w - b'0')));
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Reads modules (no quiet zone) back into text: run lengths → 6-element groups (7 for the
    /// stop) → values by lookup in [`PATTERNS`] → checksum check → characters by code set.
    /// Returns `Err` with a reason whenever the symbol is malformed.
    pub(crate) fn decode_modules(modules: &[bool]) -> Result<String, String> {
        let mut widths = Vec::new();
        let mut i = 0;
        while i < modules.len() {
            let run = modules[i..]
                .iter()
                .take_while(|&&m| m == modules[i])
                .count();
            if widths.is_empty() && !modules[i] {
                return Err("starts with a space".into());
            }
            widths.push(u8::try_from(run).map_err(|_| "run too long")? + b'0');
            i += run;
        }
        decode_widths(&widths)
    }

    /// Decodes element widths (ASCII digits, bar first) as in [`decode_modules`].
    pub(crate) fn decode_widths(widths: &[u8]) -> Result<String, String> {
        let Some(body) = widths.strip_suffix(PATTERNS[106]) else {
            return Err(format!(
                "no stop pattern at the end of {}",
                String::from_utf8_lossy(widths)
            ));
        };
        if body.len() % 6 != 0 {
            return Err(format!("{} elements before the stop", body.len()));
        }
        let values: Vec<u8> = body
            .chunks(6)
            .map(|group| {
                PATTERNS[..106]
                    .iter()
                    .position(|p| *p == group)
                    .map(|v| v as u8)
                    .ok_or_else(|| format!("unknown pattern {}", String::from_utf8_lossy(group)))
            })
            .collect::<Result<_, _>>()?;
        let (&check, data) = values.split_last().ok_or("no checksum")?;
        let sum: usize = data
            .iter()
            .enumerate()
            .map(|(i, &v)| i.max(1) * v as usize)
            .sum();
        if sum % 103 != check as usize {
            return Err(format!("checksum {check} but computed {}", sum % 103));
        }
        let mut set = match data.first() {
            Some(&START_B) => Set::B,
            Some(&START_C) => Set::C,
            other => return Err(format!("unexpected start {other:?}")),
        };
        let mut text = String::new();
        for &v in &data[1..] {
            match (set, v) {
                (Set::B, CODE_C) => set = Set::C,
                (Set::C, CODE_B) => set = Set::B,
                (Set::B, 0..=94) => text.push(char::from(v + b' ')),
                (Set::C, 0..=99) => text.push_str(&format!("{v:02}")),
                _ => return Err(format!("value {v} not understood in set {set:?}")),
            }
        }
        Ok(text)
    }

    #[test]
    fn pattern_table_is_well_formed() {
        // Each of the 106 symbols is 11 modules wide with an even number of bar modules
        // (the Code 128 parity rule); the stop is 13; all patterns are distinct.
        for (v, p) in PATTERNS.iter().enumerate() {
            let widths: Vec<u32> = p.iter().map(|w| u32::from(w - b'0')).collect();
            let bars: u32 = widths.iter().step_by(2).sum();
            let total: u32 = widths.iter().sum();
            let (len, modules) = if v == 106 { (7, 13) } else { (6, 11) };
            assert_eq!((widths.len(), total), (len, modules), "value {v}");
            assert_eq!(bars % 2, 0, "value {v} has odd bar parity");
            assert!(widths.iter().all(|w| (1..=4).contains(w)), "value {v}");
        }
        for (a, pa) in PATTERNS.iter().enumerate() {
            for pb in &PATTERNS[a + 1..] {
                assert_ne!(pa, pb);
            }
        }
        // Spot checks against the published table.
        assert_eq!(PATTERNS[0], b"212222"); // space
        assert_eq!(PATTERNS[33], b"111323"); // 'A'
        assert_eq!(PATTERNS[104], b"211214"); // Start B
        assert_eq!(PATTERNS[105], b"211232"); // Start C
    }

    #[test]
    fn set_b_vector_pjj123c() {
        // P=80-32=48, J=74-32=42, 1=17, 2=18, 3=19, C=67-32=35; the 3-digit run stays in set B.
        // 104 + 48·1 + 42·2 + 42·3 + 17·4 + 18·5 + 19·6 + 35·7
        //   = 104 + 48 + 84 + 126 + 68 + 90 + 114 + 245 = 879; 879 mod 103 = 879 − 824 = 55.
        assert_eq!(
            encode("PJJ123C").unwrap(),
            vec![104, 48, 42, 42, 17, 18, 19, 35, 55, 106]
        );
    }

    #[test]
    fn set_b_vector_lowercase_and_punctuation() {
        // "a-Z ~": a=97-32=65, '-'=45-32=13, Z=90-32=58, ' '=0, '~'=126-32=94.
        // 104 + 65·1 + 13·2 + 58·3 + 0·4 + 94·5 = 104 + 65 + 26 + 174 + 0 + 470 = 839;
        // 839 mod 103 = 839 − 824 = 15.
        assert_eq!(
            encode("a-Z ~").unwrap(),
            vec![104, 65, 13, 58, 0, 94, 15, 106]
        );
    }

    #[test]
    fn set_c_vector_for_a_digit_run_in_the_middle() {
        // V=86-32=54, N=78-32=46, Code C (99), 12 34 56 78 90, Code B (100), A=33, B=34.
        // 104 + 54·1 + 46·2 + 99·3 + 12·4 + 34·5 + 56·6 + 78·7 + 90·8 + 100·9 + 33·10 + 34·11
        //   = 104 + 54 + 92 + 297 + 48 + 170 + 336 + 546 + 720 + 900 + 330 + 374 = 3971;
        // 3971 mod 103 = 3971 − 3914 = 57.
        assert_eq!(
            encode("VN1234567890AB").unwrap(),
            vec![104, 54, 46, 99, 12, 34, 56, 78, 90, 100, 33, 34, 57, 106]
        );
        // All digits: Start C (105), 12, 34; 105 + 12·1 + 34·2 = 185; 185 mod 103 = 82.
        assert_eq!(encode("1234").unwrap(), vec![105, 12, 34, 82, 106]);
        // Odd run at the end: the first digit stays in B. A=33, B=34, '1'=17, Code C, 23, 45.
        // 104 + 33 + 68 + 51 + 99·4 + 23·5 + 45·6 = 104+33+68+51+396+115+270 = 1037;
        // 1037 mod 103 = 1037 − 1030 = 7.
        assert_eq!(
            encode("AB12345").unwrap(),
            vec![104, 33, 34, 17, 99, 23, 45, 7, 106]
        );
    }

    #[test]
    fn empty_text_is_a_data_less_symbol() {
        // Start B alone: 104 mod 103 = 1.
        assert_eq!(encode("").unwrap(), vec![104, 1, 106]);
    }

    #[test]
    fn non_ascii_and_control_characters_are_rejected_with_their_position() {
        assert_eq!(
            encode("VN12é4"),
            Err(LabelError::NotEncodable { position: 4 })
        );
        assert_eq!(encode("Đ"), Err(LabelError::NotEncodable { position: 0 }));
        assert_eq!(
            encode("AB\tC"),
            Err(LabelError::NotEncodable { position: 2 })
        );
        assert_eq!(
            encode("ABC\u{7f}"),
            Err(LabelError::NotEncodable { position: 3 })
        );
    }

    #[test]
    fn modules_have_the_expected_length_and_shape() {
        let values = encode("PJJ123C").unwrap();
        let m = modules(&values);
        assert_eq!(m.len(), 11 * (values.len() - 1) + 13);
        // Start B = 211214: ██ █ █ ████ → 11 0 1 0 1 1 0 0 0 0 (bar 2, space 1, bar 1, …).
        let start: Vec<u8> = m[..11].iter().map(|&d| u8::from(d)).collect();
        assert_eq!(start, [1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0]);
        // Ends with the termination bar.
        assert!(m[m.len() - 2..].iter().all(|&d| d));
    }

    #[test]
    fn round_trips_through_the_decoder() {
        for text in [
            "VN1234567890AB",
            "PJJ123C",
            "SPXVN0612345678",
            "GHN-2025-000123",
            "1234567890",
            "12345",
            "12",
            "7",
            "A1B22C333D4444E55555F666666",
            "x 0 y ~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}",
            "",
        ] {
            let values = encode(text).unwrap();
            assert_eq!(
                decode_modules(&modules(&values)).as_deref(),
                Ok(text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn set_c_is_used_only_when_shorter() {
        // B-only length is text length + 3 (start, checksum, stop).
        for (text, len) in [
            ("VN1234567890AB", 14),
            ("1234", 5),
            ("AB123C", 9),
            ("123", 6),
        ] {
            assert_eq!(encode(text).unwrap().len(), len, "{text}");
        }
    }

    #[test]
    fn decoder_rejects_a_corrupted_symbol() {
        let mut m = modules(&encode("VN1234567890AB").unwrap());
        // Swap one module inside the first data symbol: the pattern or the checksum breaks.
        m[13] = !m[13];
        assert!(decode_modules(&m).is_err());
    }
}
