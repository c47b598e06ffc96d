//! Query strings: parsed into a typed struct, every failure a 400 naming the parameter.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

/// The longest search text, stated purpose or cursor accepted, in characters.
pub const MAX_TEXT: usize = 200;

/// The query string parsed into `T` (which denies unknown fields); a 400 naming the
/// parameter at fault otherwise.
pub fn parse<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    let raw = raw.unwrap_or_default();
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = e.inner().to_string();
        let field = match e.path().to_string() {
            path if path != "." => path,
            // Unknown and repeated parameters are reported at the top level, named in
            // the message only.
            _ => quoted_name(&message).unwrap_or("query").to_owned(),
        };
        ApiError::bad_parameter(
            "invalid_parameter",
            field.clone(),
            format!("Paramètre « {field} » invalide : {message}."),
        )
    })
}

/// The first name between backticks in serde's message (`unknown field `x``).
fn quoted_name(message: &str) -> Option<&str> {
    message.split('`').nth(1).filter(|name| !name.is_empty())
}

/// A free-text parameter, trimmed: `None` when absent or blank, a 400 when too long or
/// holding a control character (which PostgreSQL text could not even hold, for NUL).
pub fn text(field: &'static str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > MAX_TEXT {
        return Err(ApiError::bad_parameter(
            "invalid_parameter",
            field,
            format!("Paramètre « {field} » trop long : {MAX_TEXT} caractères au plus."),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::bad_parameter(
            "invalid_parameter",
            field,
            format!("Paramètre « {field} » invalide : caractère de contrôle."),
        ));
    }
    Ok(Some(value.to_owned()))
}

/// The stated purpose of a read that is written to the access log: required.
pub fn purpose(value: Option<&str>) -> Result<String, ApiError> {
    text("purpose", value)?.ok_or_else(|| {
        ApiError::bad_parameter(
            "purpose_required",
            "purpose",
            "Cette lecture est inscrite au journal des accès : indiquez son motif (paramètre « purpose »).",
        )
    })
}

/// The page size: `default` when absent, 1 to `max` otherwise.
pub fn limit(value: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::bad_parameter(
            "invalid_parameter",
            "limit",
            format!("Paramètre « limit » invalide : entre 1 et {max}."),
        )),
    }
}

/// Routes that take no parameter at all.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Params {
        name: Option<String>,
        limit: Option<u32>,
    }

    fn field_of(raw: &str) -> String {
        match parse::<Params>(Some(raw)) {
            Err(ApiError::BadParameter { field, .. }) => field,
            other => panic!("{raw}: unexpected {other:?}"),
        }
    }

    #[test]
    fn failures_name_the_parameter() {
        assert_eq!(field_of("limit=abc"), "limit");
        assert_eq!(field_of("limit=-1"), "limit");
        assert_eq!(field_of("nom=x"), "nom");
        assert_eq!(field_of("name=a&name=b"), "name");
        assert!(parse::<Params>(Some("name=Dupont&limit=5")).is_ok());
        assert!(parse::<Params>(None).is_ok());
    }

    #[test]
    fn texts_are_trimmed_bounded_and_printable() {
        assert_eq!(text("q", Some("  ")).ok(), Some(None));
        assert_eq!(text("q", Some(" Du ")).ok(), Some(Some("Du".into())));
        assert!(text("q", Some("a\0b")).is_err());
        assert!(text("q", Some(&"a".repeat(MAX_TEXT + 1))).is_err());
        assert!(purpose(None).is_err());
        assert!(limit(Some(0), 50, 200).is_err());
        assert!(limit(Some(201), 50, 200).is_err());
        assert_eq!(limit(None, 50, 200).ok(), Some(50));
    }
}
