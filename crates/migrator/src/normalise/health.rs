//! Health declaration values. These are special-category data (GDPR art. 9): reasons
//! name the column and the rule, never the value.

use lae_domain::customer::MAX_ILLNESSES;
use lae_domain::{AlcoholUse, Illness, TobaccoUse};

use super::text::fold;

/// Tobacco use: a yes/no answer or a word. Blank means the question was not answered.
pub fn tobacco(raw: Option<&str>) -> Result<TobaccoUse, &'static str> {
    match fold(raw.unwrap_or_default()).as_str() {
        "" | "inconnu" | "nc" | "?" => Ok(TobaccoUse::Unknown),
        "oui" | "o" | "1" | "true" | "vrai" | "fumeur" | "fumeuse" => Ok(TobaccoUse::Smoker),
        "non" | "n" | "0" | "false" | "faux" | "non fumeur" | "non-fumeur" | "non fumeuse"
        | "non-fumeuse" => Ok(TobaccoUse::NonSmoker),
        _ => Err("tabac: value outside the known vocabulary (oui/non/O/N/1/0/fumeur/non-fumeur)"),
    }
}

/// Alcohol use. `oui` is refused: it says that but not how much.
pub fn alcohol(raw: Option<&str>) -> Result<AlcoholUse, &'static str> {
    match fold(raw.unwrap_or_default()).as_str() {
        "" | "inconnu" | "nc" | "?" => Ok(AlcoholUse::Unknown),
        "non" | "n" | "0" | "aucun" | "aucune" | "jamais" | "abstinent" | "abstinente" => {
            Ok(AlcoholUse::None)
        }
        "occasionnel" | "occasionnelle" | "occasionnellement" | "rarement" | "rare" => {
            Ok(AlcoholUse::Occasional)
        }
        "regulier" | "reguliere" | "regulierement" | "quotidien" | "quotidienne" => {
            Ok(AlcoholUse::Regular)
        }
        _ => Err(
            "alcool: value outside the known vocabulary (non/occasionnel/régulier, blank for unknown)",
        ),
    }
}

/// Illnesses, `;`-separated; empty items (`a;;b`, a trailing `;`) are ignored.
pub fn illnesses(raw: Option<&str>) -> Result<Vec<Illness>, String> {
    let raw = raw.unwrap_or_default();
    let mut out = Vec::new();
    for (i, item) in raw.split(';').enumerate() {
        if item.trim().is_empty() {
            continue;
        }
        let illness = Illness::parse(item).map_err(|e| {
            // The domain's message names the rule (length, control character), not the text.
            format!("maladies: item {} refused: {e}", i + 1)
        })?;
        out.push(illness);
    }
    if out.len() > MAX_ILLNESSES {
        return Err(format!(
            "maladies: {} items, more than the {MAX_ILLNESSES} a declaration may list",
            out.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tobacco_vocabulary() {
        for (raw, expected) in [
            ("oui", TobaccoUse::Smoker),
            ("O", TobaccoUse::Smoker),
            ("1", TobaccoUse::Smoker),
            ("non", TobaccoUse::NonSmoker),
            ("N", TobaccoUse::NonSmoker),
            ("0", TobaccoUse::NonSmoker),
            ("Non-fumeur", TobaccoUse::NonSmoker),
            ("", TobaccoUse::Unknown),
        ] {
            assert_eq!(tobacco(Some(raw)), Ok(expected), "{raw:?}");
        }
        assert_eq!(tobacco(None), Ok(TobaccoUse::Unknown));
        assert!(tobacco(Some("ancien fumeur")).is_err());
    }

    #[test]
    fn alcohol_vocabulary() {
        assert_eq!(alcohol(Some("non")), Ok(AlcoholUse::None));
        assert_eq!(alcohol(Some("occasionnel")), Ok(AlcoholUse::Occasional));
        assert_eq!(alcohol(Some("Régulier")), Ok(AlcoholUse::Regular));
        assert_eq!(alcohol(Some("")), Ok(AlcoholUse::Unknown));
        let refused = alcohol(Some("oui, le week-end")).unwrap_err();
        assert!(!refused.contains("week-end"), "the value is not quoted");
    }

    #[test]
    fn illnesses_are_split_on_semicolons() {
        let list = illnesses(Some("diabète type 2;hypertension")).unwrap();
        assert_eq!(
            list.iter().map(Illness::as_str).collect::<Vec<_>>(),
            ["diabète type 2", "hypertension"]
        );
        assert!(illnesses(Some("")).unwrap().is_empty());
        assert!(illnesses(None).unwrap().is_empty());
        assert_eq!(illnesses(Some(" asthme ;; ")).unwrap().len(), 1);
        let refused = illnesses(Some("asthme;secret\u{7}")).unwrap_err();
        assert!(!refused.contains("secret"));
        assert!(illnesses(Some(&"a;".repeat(60))).is_err());
    }
}
