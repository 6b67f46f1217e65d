//! The `date` filter: reads a timestamp, a date or a Unix time and formats it with strftime directives (jiff).

use crate::filters::describe;
use jiff::fmt::strtime;
use jiff::fmt::temporal::Pieces;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde_json::Value;

/// Formats `input` with `format` (strftime, such as `%Y-%m-%d %H:%M`).
///
/// Inputs: RFC 3339 / ISO 8601 timestamps (`2024-05-01T10:00:00+02:00`, kept in their own offset), with a time zone
/// annotation (`…[Europe/London]`), dates and date-times without an offset (formatted as civil times), Unix seconds as a
/// number or a text of digits, and `now`.
pub(crate) fn format(input: &Value, format: &str) -> Result<String, String> {
    let moment = read(input)?;
    let formatted = match &moment {
        Moment::Zoned(zoned) => strtime::format(format, zoned),
        Moment::Civil(datetime) => strtime::format(format, *datetime),
    };
    formatted.map_err(|e| format!("cannot format with `{format}`: {e}"))
}

enum Moment {
    Zoned(Zoned),
    Civil(jiff::civil::DateTime),
}

fn from_unix(seconds: f64) -> Result<Moment, String> {
    let whole = seconds.floor();
    let nanos = ((seconds - whole) * 1e9).round() as i32;
    Timestamp::new(whole as i64, nanos.min(999_999_999))
        .map(|ts| Moment::Zoned(ts.to_zoned(TimeZone::UTC)))
        .map_err(|e| format!("{seconds} is not a valid Unix time: {e}"))
}

fn read(input: &Value) -> Result<Moment, String> {
    match input {
        Value::Number(n) => from_unix(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => {
            let s = s.trim();
            if s == "now" {
                return Ok(Moment::Zoned(Timestamp::now().to_zoned(TimeZone::UTC)));
            }
            if let Ok(seconds) = s.parse::<f64>() {
                return from_unix(seconds);
            }
            let pieces = Pieces::parse(s).map_err(|_| {
                format!("{} is not a date: use an ISO 8601 date or timestamp, or Unix seconds", describe(input))
            })?;
            let datetime = pieces.date().to_datetime(pieces.time().unwrap_or_default());
            let zone = pieces.to_time_zone().map_err(|e| format!("unknown time zone: {e}"))?;
            match (zone, pieces.to_numeric_offset()) {
                (Some(zone), Some(offset)) => {
                    offset.to_timestamp(datetime).map(|ts| Moment::Zoned(ts.to_zoned(zone))).map_err(|e| e.to_string())
                }
                (Some(zone), None) => datetime.to_zoned(zone).map(Moment::Zoned).map_err(|e| e.to_string()),
                (None, Some(offset)) => {
                    datetime.to_zoned(TimeZone::fixed(offset)).map(Moment::Zoned).map_err(|e| e.to_string())
                }
                (None, None) => Ok(Moment::Civil(datetime)),
            }
        }
        other => Err(format!("needs a date, got {}", describe(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_input_form() {
        let cases = [
            (json!("2024-05-01T10:30:00+02:00"), "%Y-%m-%d %H:%M %z", "2024-05-01 10:30 +0200"),
            (json!("2024-05-01T10:30:00Z"), "%H:%M %Z", "10:30 UTC"),
            (json!("2024-05-01"), "%d/%m/%Y", "01/05/2024"),
            (json!(0), "%Y-%m-%dT%H:%M:%S", "1970-01-01T00:00:00"),
            (json!("86400"), "%A", "Friday"),
        ];
        for (input, fmt, expected) in cases {
            assert_eq!(format(&input, fmt).unwrap(), expected, "{input} with {fmt}");
        }
        assert!(format(&json!("not a date"), "%Y").is_err());
        assert!(format(&json!(true), "%Y").is_err());
    }
}
