//! Timestamp text as billing exports write it, parsed to UTC microseconds.

use chrono::NaiveDate;

/// Parses `2023-11-01T00:00:00Z`, `2023-11-01T00:00:00.000Z`, `2024-09-01 00:00:00`,
/// `2024-09-01T00:00:00+02:00`, `2024-09-01` and the manifest form `20170701T000000.000Z`.
pub fn parse_timestamp_micros(text: &str) -> Option<i64> {
    let s = text.trim().as_bytes();
    let (date, rest) = if s.len() >= 10 && s[4] == b'-' && s[7] == b'-' {
        (NaiveDate::from_ymd_opt(num(&s[0..4])? as i32, num(&s[5..7])?, num(&s[8..10])?)?, &s[10..])
    } else if s.len() >= 8 && s[..8].iter().all(u8::is_ascii_digit) {
        (NaiveDate::from_ymd_opt(num(&s[0..4])? as i32, num(&s[4..6])?, num(&s[6..8])?)?, &s[8..])
    } else {
        return None;
    };
    let mut micros = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros();
    if rest.is_empty() {
        return Some(micros);
    }
    if rest[0] != b'T' && rest[0] != b' ' {
        return None;
    }
    let rest = &rest[1..];
    let (h, m, sec, mut rest) = if rest.len() >= 8 && rest[2] == b':' && rest[5] == b':' {
        (num(&rest[0..2])?, num(&rest[3..5])?, num(&rest[6..8])?, &rest[8..])
    } else if rest.len() >= 6 && rest[..6].iter().all(u8::is_ascii_digit) {
        (num(&rest[0..2])?, num(&rest[2..4])?, num(&rest[4..6])?, &rest[6..])
    } else {
        return None;
    };
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    micros += (i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(sec)) * 1_000_000;
    if let Some(b'.') = rest.first() {
        let digits = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let mut frac: i64 = 0;
        for (i, b) in rest[1..=digits].iter().enumerate() {
            if i < 6 {
                frac = frac * 10 + i64::from(b - b'0');
            }
        }
        for _ in digits..6 {
            frac *= 10;
        }
        micros += frac;
        rest = &rest[1 + digits..];
    }
    match rest {
        [] | [b'Z'] | [b'z'] => Some(micros),
        [b'U', b'T', b'C'] | [b' ', b'U', b'T', b'C'] => Some(micros),
        [sign @ (b'+' | b'-'), tz @ ..] => {
            let (oh, om) = match tz {
                [a, b, b':', c, d] | [a, b, c, d] => (num(&[*a, *b])?, num(&[*c, *d])?),
                [a, b] => (num(&[*a, *b])?, 0),
                _ => return None,
            };
            let offset = (i64::from(oh) * 3600 + i64::from(om) * 60) * 1_000_000;
            Some(if *sign == b'+' { micros - offset } else { micros + offset })
        }
        _ => None,
    }
}

fn num(digits: &[u8]) -> Option<u32> {
    let mut value = 0u32;
    for b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_1: i64 = 1_698_796_800_000_000;

    #[test]
    fn accepts_every_export_spelling() {
        for text in [
            "2023-11-01T00:00:00Z",
            "2023-11-01T00:00:00.000Z",
            "2023-11-01 00:00:00",
            "2023-11-01",
            "20231101T000000.000Z",
            "2023-11-01T01:00:00+01:00",
            "2023-10-31T23:00:00-01:00",
            "2023-11-01 00:00:00 UTC",
        ] {
            assert_eq!(parse_timestamp_micros(text), Some(NOV_1), "{text}");
        }
        assert_eq!(parse_timestamp_micros("2023-11-01T00:00:00.5Z"), Some(NOV_1 + 500_000));
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "yesterday", "2023-13-01", "2023-11-01T25:00:00Z", "2023-11-01T00:00", "2023-11-01X"] {
            assert_eq!(parse_timestamp_micros(text), None, "{text}");
        }
    }
}
