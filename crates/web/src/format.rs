//! Dates, amounts and phone numbers as a French reader expects them: `31/01/2025`,
//! `1 234,50 €`, `06 12 34 56 78`, and labels of the platform's codes in French.
//!
//! Times are shown in metropolitan France's legal time (CET, CEST from the last Sunday
//! of March to the last Sunday of October, both at 01:00 UTC), LAE's only time zone.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc, Weekday};

/// `31/01/2025`.
pub fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// `31/01/2025 à 14:05`, in Paris time.
pub fn date_time(t: DateTime<Utc>) -> String {
    paris(t).format("%d/%m/%Y à %H:%M").to_string()
}

/// `31/01/2025`, the Paris date of an instant.
pub fn day(t: DateTime<Utc>) -> String {
    paris(t).format("%d/%m/%Y").to_string()
}

/// An optional instant, or a dash.
pub fn maybe_date_time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "—".to_owned(), date_time)
}

/// How long ago, in words: `à l'instant`, `il y a 12 min`, `il y a 3 h`, `il y a 2 j`.
pub fn age(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(t) = t else {
        return "—".to_owned();
    };
    let minutes = (now - t).num_minutes();
    match minutes {
        m if m < 1 => "à l'instant".to_owned(),
        m if m < 60 => format!("il y a {m} min"),
        m if m < 60 * 24 => format!("il y a {} h", m / 60),
        m => format!("il y a {} j", m / (60 * 24)),
    }
}

/// The instant in Paris legal time.
pub fn paris(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    let year = t.year();
    let summer_starts = last_sunday(year, 3);
    let summer_ends = last_sunday(year, 10);
    let hours = if t >= summer_starts && t < summer_ends {
        2
    } else {
        1
    };
    let offset = FixedOffset::east_opt(hours * 3600)
        .unwrap_or_else(|| unreachable!("one or two hours is a valid offset"));
    t.with_timezone(&offset)
}

/// 01:00 UTC on the last Sunday of `month`.
fn last_sunday(year: i32, month: u32) -> DateTime<Utc> {
    let first_of_next = NaiveDate::from_ymd_opt(year, month + 1, 1)
        .unwrap_or_else(|| unreachable!("March and October are followed by a month"));
    let mut d = first_of_next - Duration::days(1);
    while d.weekday() != Weekday::Sun {
        d -= Duration::days(1);
    }
    let at = d
        .and_hms_opt(1, 0, 0)
        .unwrap_or_else(|| unreachable!("01:00 exists"));
    Utc.from_utc_datetime(&at)
}

/// `1 234,50 €`: a narrow no-break space between thousands, a comma before the
/// cents, a no-break space before the euro sign.
pub fn amount(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let (euros, rest) = (abs / 100, abs % 100);
    let digits = euros.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped},{rest:02}\u{a0}€")
}

/// A stored E.164 number as a French reader writes it: `06 12 34 56 78` for a French
/// number, `+44 20…` kept whole otherwise.
pub fn phone(e164: &str) -> String {
    match e164.strip_prefix("+33") {
        Some(rest) if rest.len() == 9 && rest.bytes().all(|b| b.is_ascii_digit()) => {
            let national = format!("0{rest}");
            national
                .as_bytes()
                .chunks(2)
                .map(|pair| String::from_utf8_lossy(pair).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        }
        _ => e164.to_owned(),
    }
}

/// A contact channel in French.
pub fn channel(code: &str) -> &'static str {
    match code {
        "phone" => "Téléphone",
        "mail" => "Courrier ou e-mail",
        "internal" => "Interne (plateforme)",
        _ => "Autre canal",
    }
}

/// A department in French.
pub fn department(code: &str) -> &'static str {
    match code {
        "customer_service" => "Service client",
        "legal" => "Juridique",
        "sales" => "Commercial",
        "billing" => "Facturation",
        "management" => "Direction",
        _ => "Autre service",
    }
}

/// A ticket's status in French.
pub fn ticket_status(code: &str) -> &'static str {
    match code {
        "open" => "Ouvert",
        "resolved" => "Résolu",
        _ => "Inconnu",
    }
}

/// A step of a ticket's history in French.
pub fn ticket_step(kind: &str) -> &'static str {
    match kind {
        "opened" => "Ouverture",
        "action" => "Action",
        "routed" => "Transmis",
        "identified" => "Appelant identifié",
        "resolved" => "Résolution",
        "rated" => "Satisfaction",
        _ => "Étape",
    }
}

/// A satisfaction score in French.
pub fn satisfaction(score: &str) -> &'static str {
    match score {
        "good" => "client satisfait",
        "bad" => "client insatisfait",
        _ => "note inconnue",
    }
}

/// A role in French.
pub fn role(role: lae_api::auth::Role) -> &'static str {
    use lae_api::auth::Role;
    match role {
        Role::CustomerService => "Service client",
        Role::Legal => "Juridique",
        Role::Sales => "Commercial",
        Role::Billing => "Facturation",
        Role::Auditor => "Audit",
        Role::Admin => "Administration",
        Role::Management => "Direction",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("an instant")
    }

    #[test]
    fn dates_are_day_month_year_in_paris_time() {
        let d = NaiveDate::from_ymd_opt(2025, 1, 31).expect("a date");
        assert_eq!(date(d), "31/01/2025");
        assert_eq!(date_time(at("2025-01-31T13:05:00Z")), "31/01/2025 à 14:05");
        assert_eq!(date_time(at("2025-07-14T20:00:00Z")), "14/07/2025 à 22:00");
        // The change to summer time, 30 March 2025 at 01:00 UTC.
        assert_eq!(date_time(at("2025-03-30T00:59:00Z")), "30/03/2025 à 01:59");
        assert_eq!(date_time(at("2025-03-30T01:00:00Z")), "30/03/2025 à 03:00");
        // And back, 26 October 2025 at 01:00 UTC.
        assert_eq!(date_time(at("2025-10-26T00:59:00Z")), "26/10/2025 à 02:59");
        assert_eq!(date_time(at("2025-10-26T01:00:00Z")), "26/10/2025 à 02:00");
        assert_eq!(day(at("2025-12-31T23:30:00Z")), "01/01/2026");
    }

    #[test]
    fn amounts_are_grouped_with_a_comma_and_the_euro_sign() {
        assert_eq!(amount(123_450), "1\u{202f}234,50\u{a0}€");
        assert_eq!(amount(5), "0,05\u{a0}€");
        assert_eq!(amount(100), "1,00\u{a0}€");
        assert_eq!(amount(123_456_789), "1\u{202f}234\u{202f}567,89\u{a0}€");
        assert_eq!(amount(-3_150), "-31,50\u{a0}€");
    }

    #[test]
    fn french_phones_are_grouped_by_two() {
        assert_eq!(phone("+33612345678"), "06 12 34 56 78");
        assert_eq!(phone("+33123456789"), "01 23 45 67 89");
        assert_eq!(phone("+442012345678"), "+442012345678");
    }

    #[test]
    fn ages_read_as_words() {
        let now = at("2025-01-31T12:00:00Z");
        assert_eq!(age(Some(at("2025-01-31T11:59:30Z")), now), "à l'instant");
        assert_eq!(age(Some(at("2025-01-31T11:48:00Z")), now), "il y a 12 min");
        assert_eq!(age(Some(at("2025-01-31T09:00:00Z")), now), "il y a 3 h");
        assert_eq!(age(Some(at("2025-01-29T12:00:00Z")), now), "il y a 2 j");
        assert_eq!(age(None, now), "—");
    }
}
