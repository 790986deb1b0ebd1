//! Query parameters of the Herald-compatible API: names matched without regard to case (IVOA
//! DALI asks for it; Herald itself matches `ID` and `RESPONSEFORMAT` exactly), values taken as
//! Herald takes them.
//!
//! Herald is a FastAPI application, so what it accepts is Starlette's query parsing and
//! Python's `int()`: the last of repeated parameters wins, a parameter without `=` has the
//! empty value, and an id may carry surrounding whitespace, a sign, `_` between digits and
//! digits of any script (`int("١٢")` is 12). [`parse_alert_id`] reproduces `int()` exactly, so an
//! id Herald answers is an id we answer, and one it refuses we refuse with the same words.

use super::error::HeraldError;
use std::borrow::Cow;

/// The IAU designation prefix of an alert: `LSST-AP-DS-{diaSourceId}`.
pub const IAU_ALERT_PREFIX: &str = "LSST-AP-DS-";

/// The formats `RESPONSEFORMAT` may name, as Herald lists them in its 415 message.
pub const ACCEPTED_FORMATS: [&str; 4] = ["application/fits", "application/json", "fits", "json"];

/// Python's limit on the digits of an integer read from text (`sys.int_info`'s default
/// `max_str_digits`): Herald's `int()` refuses longer ids with a `ValueError`, i.e. a 400.
const PYTHON_MAX_STR_DIGITS: usize = 4300;

/// What a request asked for, once its parameters are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertQuery {
    pub id: AlertId,
    pub format: ResponseFormat,
}

/// A parsed alert id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertId {
    /// An id the archive can hold (its keys are unsigned 64-bit decimals).
    Archived(u64),
    /// A well-formed integer no archived alert can have (negative, or beyond 64 bits): Herald
    /// looks it up and answers 404; we answer the same without asking the store. The text is
    /// the integer as Python prints it (`-0012` → `-12`), for the message.
    Impossible(String),
}

impl AlertId {
    /// The id as Python prints the integer, for messages.
    pub fn display(&self) -> Cow<'_, str> {
        match self {
            AlertId::Archived(id) => Cow::Owned(id.to_string()),
            AlertId::Impossible(text) => Cow::Borrowed(text),
        }
    }
}

/// What `RESPONSEFORMAT` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// No `RESPONSEFORMAT`: an Avro object container file.
    Avro,
    Json,
    Fits,
}

/// Which parameters a route takes besides `ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET {prefix}`: `ID` and `RESPONSEFORMAT`.
    Alert,
    /// `/cutouts`, `/schema`, `/links`: `ID` only.
    IdOnly,
}

/// Checks a raw query string the way Herald does, in Herald's order: a missing `ID` (FastAPI's
/// validation, before the handler runs), then unknown parameters, then the id, then the
/// format.
pub fn parse_query(raw_query: Option<&str>, route: Route) -> Result<AlertQuery, HeraldError> {
    let raw = raw_query.unwrap_or("");
    let mut id: Option<String> = None;
    let mut format: Option<String> = None;
    let mut unknown: Option<String> = None;
    for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        if name.eq_ignore_ascii_case("ID") {
            id = Some(value.into_owned());
        } else if route == Route::Alert && name.eq_ignore_ascii_case("RESPONSEFORMAT") {
            format = Some(value.into_owned());
        } else if unknown.is_none() {
            unknown = Some(name.into_owned());
        }
    }
    let Some(id) = id else {
        return Err(HeraldError::MissingId);
    };
    if let Some(name) = unknown {
        return Err(HeraldError::UnknownParameter {
            name,
            query: raw.to_owned(),
        });
    }
    let id = parse_alert_id(&id)?;
    let format = match format.as_deref() {
        None => ResponseFormat::Avro,
        Some("json" | "application/json") => ResponseFormat::Json,
        Some("fits" | "application/fits") => ResponseFormat::Fits,
        Some(other) => return Err(HeraldError::UnsupportedFormat(other.to_owned())),
    };
    Ok(AlertQuery { id, format })
}

/// An `ID` value: a decimal integer as Python's `int()` reads it, or `LSST-AP-DS-` and one.
pub fn parse_alert_id(text: &str) -> Result<AlertId, HeraldError> {
    let numeric = if let Some(rest) = text.strip_prefix("LSST-") {
        if !text.starts_with(IAU_ALERT_PREFIX) {
            return Err(HeraldError::NonLsstId(text.to_owned()));
        }
        &rest[IAU_ALERT_PREFIX.len() - "LSST-".len()..]
    } else {
        text
    };
    python_int(numeric).ok_or_else(|| HeraldError::MalformedId(text.to_owned()))
}

/// Python's `int(text)` in base 10, as an [`AlertId`]; `None` where `int()` raises.
fn python_int(text: &str) -> Option<AlertId> {
    let trimmed = text.trim_matches(is_python_space);
    let (negative, body) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    // ASCII digits of the value, leading zeros dropped; `_` only between two digits.
    let mut digits = String::with_capacity(body.len());
    let mut count = 0usize;
    let mut previous_was_digit = false;
    let mut previous_was_underscore = false;
    for c in body.chars() {
        if c == '_' {
            if !previous_was_digit {
                return None;
            }
            previous_was_digit = false;
            previous_was_underscore = true;
            continue;
        }
        let digit = decimal_digit(c)?;
        count += 1;
        if !(digits.is_empty() && digit == 0) {
            digits.push(char::from(b'0' + digit));
        }
        previous_was_digit = true;
        previous_was_underscore = false;
    }
    if count == 0 || previous_was_underscore || count > PYTHON_MAX_STR_DIGITS {
        return None;
    }
    if digits.is_empty() {
        return Some(AlertId::Archived(0));
    }
    if negative {
        return Some(AlertId::Impossible(format!("-{digits}")));
    }
    Some(match digits.parse::<u64>() {
        Ok(id) => AlertId::Archived(id),
        Err(_) => AlertId::Impossible(digits),
    })
}

/// Characters `str.isspace()` is true for (what `int()` strips around a number).
fn is_python_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{d}'
            | '\u{1c}'..='\u{20}'
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// The first code point of each run of ten decimal digits (Unicode category Nd, as Python
/// 3.11's `unicodedata` 14.0 lists them): `int()` reads a digit of any of these scripts.
const DIGIT_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// The value of a decimal digit of any script, `None` for anything else.
fn decimal_digit(c: char) -> Option<u8> {
    let code = u32::from(c);
    if c.is_ascii_digit() {
        return Some((code - 0x30) as u8);
    }
    if code < 0x660 {
        return None;
    }
    let index = DIGIT_ZEROS.partition_point(|zero| *zero <= code);
    let zero = DIGIT_ZEROS[index.checked_sub(1)?];
    (code - zero < 10).then(|| (code - zero) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> Result<AlertId, HeraldError> {
        parse_alert_id(text)
    }

    #[test]
    fn ids_are_read_as_python_int_reads_them() {
        for (text, value) in [
            ("12345", 12345),
            ("LSST-AP-DS-12345", 12345),
            ("0", 0),
            ("-0", 0),
            ("007", 7),
            ("+5", 5),
            (" 12 ", 12),
            ("\t12\n", 12),
            ("\u{a0}12\u{3000}", 12),
            ("1_000", 1000),
            ("١٢", 12),
            ("１２３", 123),
            ("𝟙𝟚", 12),
            ("LSST-AP-DS- 7", 7),
            ("18446744073709551615", u64::MAX),
        ] {
            assert_eq!(id(text).unwrap(), AlertId::Archived(value), "{text:?}");
        }
    }

    #[test]
    fn integers_no_alert_can_have_are_not_found_not_malformed() {
        assert_eq!(
            id("18446744073709551616").unwrap(),
            AlertId::Impossible("18446744073709551616".into())
        );
        assert_eq!(id("-0012").unwrap(), AlertId::Impossible("-12".into()));
        assert_eq!(
            id("LSST-AP-DS--5").unwrap(),
            AlertId::Impossible("-5".into())
        );
        let huge = "9".repeat(PYTHON_MAX_STR_DIGITS);
        assert_eq!(id(&huge).unwrap(), AlertId::Impossible(huge.clone()));
        // One digit more and Python refuses to read it.
        let too_long = "9".repeat(PYTHON_MAX_STR_DIGITS + 1);
        assert!(matches!(id(&too_long), Err(HeraldError::MalformedId(_))));
    }

    #[test]
    fn malformed_ids_are_refused_with_herald_words() {
        for text in [
            "",
            " ",
            "not-a-number",
            "1__0",
            "_1",
            "1_",
            "+_1",
            "+-1",
            "0x10",
            "1 2",
            "1.0",
            "1e5",
            "½",
            "Ⅻ",
            "1\0",
            "--1",
            "LSST-AP-DS-",
            "LSST-AP-DS-x",
            "lsst-ap-ds-1",
        ] {
            let error = id(text).unwrap_err();
            assert!(
                matches!(error, HeraldError::MalformedId(ref t) if t == text),
                "{text:?}: {error:?}"
            );
            assert_eq!(
                error.to_string(),
                format!("Invalid alert ID format in '{text}'")
            );
        }
        let error = id("LSST-OTHER-12345").unwrap_err();
        assert_eq!(error.to_string(), "Non-LSST alert ID 'LSST-OTHER-12345'");
        assert!(matches!(id("LSST-"), Err(HeraldError::NonLsstId(_))));
    }

    #[test]
    fn names_ignore_case_and_the_last_repeat_wins() {
        let q = parse_query(Some("id=1&ResponseFormat=json&ID=2"), Route::Alert).unwrap();
        assert_eq!(q.id, AlertId::Archived(2));
        assert_eq!(q.format, ResponseFormat::Json);
        let q = parse_query(
            Some("ID=3&RESPONSEFORMAT=json&RESPONSEFORMAT=application/fits"),
            Route::Alert,
        )
        .unwrap();
        assert_eq!(q.format, ResponseFormat::Fits);
        let q = parse_query(Some("ID=LSST-AP-DS-9&&"), Route::IdOnly).unwrap();
        assert_eq!(q.format, ResponseFormat::Avro);
        // Percent-encoding and `+` decode before the id is read.
        let q = parse_query(Some("ID=%2B12+"), Route::Alert).unwrap();
        assert_eq!(q.id, AlertId::Archived(12));
    }

    #[test]
    fn errors_come_in_herald_order() {
        assert!(matches!(
            parse_query(None, Route::Alert),
            Err(HeraldError::MissingId)
        ));
        assert!(matches!(
            parse_query(Some("foo=bar"), Route::Alert),
            Err(HeraldError::MissingId)
        ));
        let unknown = parse_query(Some("ID=x&foo=bar&baz=1"), Route::Alert).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "Invalid parameter 'foo' in query string '?ID=x&foo=bar&baz=1'"
        );
        // RESPONSEFORMAT belongs to the alert route only.
        let unknown = parse_query(Some("ID=1&RESPONSEFORMAT=fits"), Route::IdOnly).unwrap_err();
        assert!(unknown
            .to_string()
            .starts_with("Invalid parameter 'RESPONSEFORMAT'"));
        // A bad id is reported before a bad format.
        assert!(matches!(
            parse_query(Some("ID=x&RESPONSEFORMAT=xml"), Route::Alert),
            Err(HeraldError::MalformedId(_))
        ));
        for (format, shown) in [
            ("text/html", "text/html"),
            ("FITS", "FITS"),
            ("", ""),
            ("%C3%A9", "é"),
        ] {
            let error = parse_query(Some(&format!("ID=1&RESPONSEFORMAT={format}")), Route::Alert)
                .unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("Invalid response format '{shown}'; accepted formats are application/fits, application/json, fits, json")
            );
        }
        // A parameter without `=` is present with the empty value.
        assert!(matches!(
            parse_query(Some("ID"), Route::Alert),
            Err(HeraldError::MalformedId(ref t)) if t.is_empty()
        ));
        // Names are decoded, and non-ASCII names are named as they are.
        let unknown = parse_query(Some("ID=1&%C3%A9t%C3%A9=1"), Route::Alert).unwrap_err();
        assert!(unknown.to_string().starts_with("Invalid parameter 'été'"));
    }
}
