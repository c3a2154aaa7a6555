//! RFC 3339 date-times, as SCIM writes `meta.created` and `meta.lastModified`
//! and as filters compare them, from and to the store's unix milliseconds.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Unix milliseconds of an RFC 3339 date-time.
pub fn parse_ms(text: &str) -> Option<i64> {
    let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The RFC 3339 form (UTC, milliseconds) of unix milliseconds.
pub fn format_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let ms = 1_700_000_000_123;
        assert_eq!(format_ms(ms), "2023-11-14T22:13:20.123Z");
        assert_eq!(parse_ms(&format_ms(ms)), Some(ms));
        assert_eq!(parse_ms("2011-05-13T04:42:34Z"), Some(1_305_261_754_000));
        assert_eq!(parse_ms("2011-05-13T06:42:34+02:00"), Some(1_305_261_754_000));
        assert_eq!(parse_ms("yesterday"), None);
    }
}
