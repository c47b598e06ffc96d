//! Closed vocabularies of the legacy applications: statuses, channels, sex, age bands.

use lae_domain::{AgeBand, Channel, Sex};

use super::text::{excerpt, fold};

/// An offer's legacy status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferStatus {
    Proposed,
    Accepted,
    Declined,
}

/// A contract's legacy status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractStatus {
    Active,
    Terminated,
}

/// An invoice's legacy status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceStatus {
    Issued,
    Paid,
    Unpaid,
}

fn unknown(what: &str, raw: &str) -> String {
    format!("unknown {what}: {}", excerpt(raw))
}

/// `proposée`/`acceptée`/`refusée`, with or without accents.
pub fn offer_status(raw: &str) -> Result<OfferStatus, String> {
    match fold(raw).as_str() {
        "proposee" | "propose" | "proposition" | "en cours" => Ok(OfferStatus::Proposed),
        "acceptee" | "accepte" => Ok(OfferStatus::Accepted),
        "refusee" | "refuse" | "declinee" | "decline" => Ok(OfferStatus::Declined),
        _ => Err(unknown("offer status (proposée/acceptée/refusée)", raw)),
    }
}

/// `actif`/`résilié`.
pub fn contract_status(raw: &str) -> Result<ContractStatus, String> {
    match fold(raw).as_str() {
        "actif" | "active" | "en vigueur" => Ok(ContractStatus::Active),
        "resilie" | "resiliee" | "resilie(e)" => Ok(ContractStatus::Terminated),
        _ => Err(unknown("contract status (actif/résilié)", raw)),
    }
}

/// `émise`/`payée`/`impayée`.
pub fn invoice_status(raw: &str) -> Result<InvoiceStatus, String> {
    match fold(raw).as_str() {
        "emise" | "emis" => Ok(InvoiceStatus::Issued),
        "payee" | "paye" | "reglee" | "regle" => Ok(InvoiceStatus::Paid),
        "impayee" | "impaye" => Ok(InvoiceStatus::Unpaid),
        _ => Err(unknown("invoice status (émise/payée/impayée)", raw)),
    }
}

/// `téléphone`/`mail`.
pub fn channel(raw: &str) -> Result<Channel, String> {
    match fold(raw).as_str() {
        "telephone" | "tel" | "tel." | "phone" | "appel" => Ok(Channel::Phone),
        "mail" | "email" | "e-mail" | "courriel" => Ok(Channel::Mail),
        _ => Err(unknown("channel (téléphone/mail)", raw)),
    }
}

/// `M`/`H` (homme) are male, `F` female, blank unspecified.
pub fn sex(raw: Option<&str>) -> Result<Sex, String> {
    let raw = raw.unwrap_or_default();
    match fold(raw).as_str() {
        "" => Ok(Sex::Unspecified),
        "m" | "h" | "homme" | "masculin" => Ok(Sex::Male),
        "f" | "femme" | "feminin" => Ok(Sex::Female),
        _ => Err(unknown("sex (M/H/F)", raw)),
    }
}

/// `18-25` ... `65+`; blank is unknown (`None`).
pub fn age_band(raw: Option<&str>) -> Result<Option<AgeBand>, String> {
    let raw = raw.unwrap_or_default();
    let compact: String = fold(raw).chars().filter(|c| !c.is_whitespace()).collect();
    let canonical = match compact.as_str() {
        "" => return Ok(None),
        "65etplus" | "+65" | ">65" | "65ansetplus" | "plusde65" => "65+",
        other => other,
    };
    let canonical = canonical.replace(['/', '_'], "-");
    canonical
        .parse::<AgeBand>()
        .map(Some)
        .map_err(|_| unknown("age band (18-25, 26-35, 36-45, 46-55, 56-65, 65+)", raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_with_and_without_accents() {
        assert_eq!(offer_status("proposée"), Ok(OfferStatus::Proposed));
        assert_eq!(offer_status("ACCEPTEE"), Ok(OfferStatus::Accepted));
        assert_eq!(offer_status(" refusée "), Ok(OfferStatus::Declined));
        assert!(offer_status("peut-être").is_err());
        assert_eq!(contract_status("actif"), Ok(ContractStatus::Active));
        assert_eq!(contract_status("Résilié"), Ok(ContractStatus::Terminated));
        assert_eq!(invoice_status("émise"), Ok(InvoiceStatus::Issued));
        assert_eq!(invoice_status("payée"), Ok(InvoiceStatus::Paid));
        assert_eq!(invoice_status("impayée"), Ok(InvoiceStatus::Unpaid));
        assert!(invoice_status("").is_err());
        assert_eq!(channel("téléphone"), Ok(Channel::Phone));
        assert_eq!(channel("mail"), Ok(Channel::Mail));
        assert!(channel("pigeon").is_err());
    }

    #[test]
    fn sex_and_age() {
        assert_eq!(sex(Some("M")), Ok(Sex::Male));
        assert_eq!(sex(Some("H")), Ok(Sex::Male));
        assert_eq!(sex(Some("F")), Ok(Sex::Female));
        assert_eq!(sex(Some("f")), Ok(Sex::Female));
        assert_eq!(sex(Some("")), Ok(Sex::Unspecified));
        assert_eq!(sex(None), Ok(Sex::Unspecified));
        assert!(sex(Some("X")).is_err());
        assert_eq!(age_band(Some("36-45")), Ok(Some(AgeBand::From36To45)));
        assert_eq!(age_band(Some("36 - 45")), Ok(Some(AgeBand::From36To45)));
        assert_eq!(age_band(Some("65+")), Ok(Some(AgeBand::Over65)));
        assert_eq!(age_band(Some("65 et plus")), Ok(Some(AgeBand::Over65)));
        assert_eq!(age_band(Some("")), Ok(None));
        assert!(age_band(Some("12-17")).is_err());
    }
}
