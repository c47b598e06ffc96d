//! The bank's payment status report, ISO 20022 `pain.002.001.03`, read with
//! `quick-xml` (element by element, by local name, so any namespace prefix reads).
//!
//! Kept: the report's message id and creation date, and for each
//! `OrgnlPmtInfAndSts/TxInfAndSts` its `OrgnlEndToEndId`, its `TxSts` and the first
//! `StsRsnInf/Rsn/Cd` (or `Prtry`).

use chrono::NaiveDate;
use quick_xml::Reader;
use quick_xml::events::Event;

/// One transaction's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionStatus {
    /// Its position in the report (1-based), to name it in messages.
    pub position: usize,
    pub original_end_to_end_id: String,
    /// `ACCP`, `ACSC`, `RJCT`, `PDNG`, …
    pub status: String,
    /// The ISO reason code (e.g. `AM04`), when given.
    pub reason_code: Option<String>,
}

/// What a report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub message_id: String,
    /// The date part of `GrpHdr/CreDtTm`.
    pub created_on: NaiveDate,
    pub transactions: Vec<TransactionStatus>,
}

/// A report that cannot be read, saying where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReportError(pub String);

/// Parses a `pain.002.001.03` document.
pub fn parse(xml: &str) -> Result<StatusReport, ReportError> {
    let mut reader = Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut message_id = None;
    let mut created = None;
    let mut root_seen = false;
    let mut transactions = Vec::new();
    let mut current: Option<TransactionStatus> = None;
    loop {
        let event = reader.read_event().map_err(|e| {
            ReportError(format!(
                "XML illisible à l'octet {}: {e}",
                reader.error_position()
            ))
        })?;
        match event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    if name != "Document" {
                        return Err(ReportError(format!(
                            "l'élément racine est <{name}>, pas <Document> (pain.002.001.03)"
                        )));
                    }
                    root_seen = true;
                }
                if name == "TxInfAndSts" && ends_with(&path, &["OrgnlPmtInfAndSts"]) {
                    current = Some(TransactionStatus {
                        position: transactions.len() + 1,
                        original_end_to_end_id: String::new(),
                        status: String::new(),
                        reason_code: None,
                    });
                }
                path.push(name);
                text.clear();
            }
            Event::Text(e) => {
                let decoded = e
                    .decode()
                    .map_err(|e| ReportError(format!("texte illisible : {e}")))?;
                text.push_str(&decoded);
            }
            Event::GeneralRef(e) => {
                let name = e
                    .decode()
                    .map_err(|e| ReportError(format!("référence illisible : {e}")))?;
                if let Some(c) = e
                    .resolve_char_ref()
                    .map_err(|e| ReportError(format!("référence illisible : {e}")))?
                {
                    text.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&name) {
                    text.push_str(s);
                } else {
                    return Err(ReportError(format!("entité inconnue &{name};")));
                }
            }
            Event::CData(e) => {
                text.push_str(&String::from_utf8_lossy(&e));
            }
            Event::End(_) => {
                let value = text.trim().to_owned();
                text.clear();
                let Some(name) = path.last().cloned() else {
                    return Err(ReportError("balise fermante sans ouvrante".into()));
                };
                let parents = &path[..path.len() - 1];
                match name.as_str() {
                    "MsgId" if ends_with(parents, &["GrpHdr"]) => message_id = Some(value),
                    "CreDtTm" if ends_with(parents, &["GrpHdr"]) => created = Some(value),
                    "OrgnlEndToEndId" if ends_with(parents, &["TxInfAndSts"]) => {
                        if let Some(tx) = current.as_mut() {
                            tx.original_end_to_end_id = value;
                        }
                    }
                    "TxSts" if ends_with(parents, &["TxInfAndSts"]) => {
                        if let Some(tx) = current.as_mut() {
                            tx.status = value;
                        }
                    }
                    "Cd" | "Prtry" if ends_with(parents, &["TxInfAndSts", "StsRsnInf", "Rsn"]) => {
                        if let Some(tx) = current.as_mut() {
                            tx.reason_code.get_or_insert(value);
                        }
                    }
                    "TxInfAndSts" => {
                        if let Some(tx) = current.take() {
                            transactions.push(tx);
                        }
                    }
                    _ => {}
                }
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err(ReportError(
            "document vide : aucun élément <Document>".into(),
        ));
    }
    let message_id = message_id.ok_or_else(|| ReportError("GrpHdr/MsgId manquant".into()))?;
    let created = created.ok_or_else(|| ReportError("GrpHdr/CreDtTm manquant".into()))?;
    let created_on = created
        .get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| ReportError(format!("GrpHdr/CreDtTm {created:?} n'est pas une date")))?;
    for tx in &transactions {
        if tx.original_end_to_end_id.is_empty() {
            return Err(ReportError(format!(
                "transaction n° {} : OrgnlEndToEndId manquant",
                tx.position
            )));
        }
        if tx.status.is_empty() {
            return Err(ReportError(format!(
                "transaction n° {} ({}) : TxSts manquant",
                tx.position, tx.original_end_to_end_id
            )));
        }
    }
    Ok(StatusReport {
        message_id,
        created_on,
        transactions,
    })
}

fn ends_with(path: &[String], suffix: &[&str]) -> bool {
    path.len() >= suffix.len()
        && path[path.len() - suffix.len()..]
            .iter()
            .zip(suffix)
            .all(|(a, b)| a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">
  <CstmrPmtStsRpt>
    <GrpHdr><MsgId>BANK-&amp;-1</MsgId><CreDtTm>2026-11-09T10:00:00</CreDtTm></GrpHdr>
    <OrgnlGrpInfAndSts><OrgnlMsgId>LAE-SDD-20261105</OrgnlMsgId><OrgnlMsgNmId>pain.008.001.02</OrgnlMsgNmId></OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>LAE-SDD-20261105-FRST</OrgnlPmtInfId>
      <TxInfAndSts>
        <OrgnlEndToEndId>aa</OrgnlEndToEndId><TxSts>RJCT</TxSts>
        <StsRsnInf><Rsn><Cd>AM04</Cd></Rsn></StsRsnInf>
      </TxInfAndSts>
      <TxInfAndSts><OrgnlEndToEndId>bb</OrgnlEndToEndId><TxSts>ACSC</TxSts></TxInfAndSts>
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>"#;

    #[test]
    fn reads_each_transaction_with_its_status_and_reason() {
        let report = parse(REPORT).expect("test value");
        assert_eq!(report.message_id, "BANK-&-1");
        assert_eq!(
            report.created_on,
            NaiveDate::from_ymd_opt(2026, 11, 9).expect("test value")
        );
        assert_eq!(report.transactions.len(), 2);
        assert_eq!(report.transactions[0].original_end_to_end_id, "aa");
        assert_eq!(report.transactions[0].status, "RJCT");
        assert_eq!(report.transactions[0].reason_code.as_deref(), Some("AM04"));
        assert_eq!(report.transactions[1].reason_code, None);
    }

    #[test]
    fn broken_documents_are_refused_saying_why() {
        for (xml, expected) in [
            ("", "aucun élément"),
            ("<Foo/>", "aucun élément"),
            ("<Foo></Foo>", "racine"),
            ("<Document><CstmrPmtStsRpt>", "GrpHdr/MsgId"),
            ("<Document></Wrong>", "illisible"),
        ] {
            let err = parse(xml).expect_err("refused");
            assert!(err.0.contains(expected), "{xml:?}: {err}");
        }
    }
}
