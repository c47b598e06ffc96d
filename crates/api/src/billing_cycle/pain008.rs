//! The SEPA Direct Debit initiation file, ISO 20022 `pain.008.001.02`, written by a
//! small writer of ours: every text goes through [`escape`], every amount is integer
//! cents printed with two decimals, and nothing depends on the clock or on a map's
//! order, so the same collection gives the same bytes.

use std::fmt::Write as _;

use chrono::NaiveDate;
use lae_domain::Cents;

use super::creditor::SepaCreditor;

/// First collection under a mandate, or a later one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, schemars::JsonSchema,
)]
pub enum SequenceType {
    /// The mandate's first collection.
    #[serde(rename = "FRST")]
    First,
    /// A collection after the mandate's first.
    #[serde(rename = "RCUR")]
    Recurring,
}

impl SequenceType {
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::First => "FRST",
            Self::Recurring => "RCUR",
        }
    }
}

/// One debit: an invoice collected under a mandate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The `EndToEndId`: the invoice id, 32 hexadecimal digits (a hyphenated UUID is
    /// 36 characters, one more than the field allows).
    pub end_to_end_id: String,
    pub amount: Cents,
    pub mandate_reference: String,
    pub mandate_signed_on: NaiveDate,
    pub sequence: SequenceType,
    pub debtor_name: String,
    /// The debtor's IBAN, electronic form (no spaces).
    pub debtor_iban: String,
    /// The invoice number, as the remittance information the debtor sees.
    pub remittance: String,
}

/// A whole collection: one message, one payment information block per sequence type.
#[derive(Debug, Clone)]
pub struct Collection<'a> {
    pub creditor: &'a SepaCreditor,
    /// The collection date: the message id, its creation time and the requested
    /// collection date all derive from it.
    pub date: NaiveDate,
    pub transactions: Vec<Transaction>,
}

impl Collection<'_> {
    /// `LAE-SDD-YYYYMMDD`.
    #[must_use]
    pub fn message_id(&self) -> String {
        format!("LAE-SDD-{}", self.date.format("%Y%m%d"))
    }

    /// The sum of the amounts.
    #[must_use]
    pub fn control_sum(&self) -> Cents {
        Cents(self.transactions.iter().map(|t| t.amount.value()).sum())
    }

    /// The XML document (UTF-8). Transactions are grouped by sequence type (FRST
    /// first) and sorted by `EndToEndId` inside each group.
    #[must_use]
    pub fn to_xml(&self) -> String {
        let mut transactions = self.transactions.clone();
        transactions
            .sort_by(|a, b| (a.sequence, &a.end_to_end_id).cmp(&(b.sequence, &b.end_to_end_id)));
        let mut x = String::with_capacity(2048 + 1024 * transactions.len());
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.push_str(
            "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.008.001.02\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n",
        );
        x.push_str("  <CstmrDrctDbtInitn>\n    <GrpHdr>\n");
        element(&mut x, 6, "MsgId", &self.message_id());
        element(
            &mut x,
            6,
            "CreDtTm",
            &format!("{}T00:00:00", self.date.format("%Y-%m-%d")),
        );
        element(&mut x, 6, "NbOfTxs", &transactions.len().to_string());
        element(&mut x, 6, "CtrlSum", &euros(self.control_sum()));
        x.push_str("      <InitgPty>\n");
        element(&mut x, 8, "Nm", &self.creditor.name);
        x.push_str("      </InitgPty>\n    </GrpHdr>\n");
        for sequence in [SequenceType::First, SequenceType::Recurring] {
            let group: Vec<&Transaction> = transactions
                .iter()
                .filter(|t| t.sequence == sequence)
                .collect();
            if !group.is_empty() {
                self.payment_information(&mut x, sequence, &group);
            }
        }
        x.push_str("  </CstmrDrctDbtInitn>\n</Document>\n");
        x
    }

    fn payment_information(&self, x: &mut String, sequence: SequenceType, group: &[&Transaction]) {
        let creditor = self.creditor;
        let sum = Cents(group.iter().map(|t| t.amount.value()).sum());
        x.push_str("    <PmtInf>\n");
        element(
            x,
            6,
            "PmtInfId",
            &format!("{}-{}", self.message_id(), sequence.code()),
        );
        element(x, 6, "PmtMtd", "DD");
        element(x, 6, "NbOfTxs", &group.len().to_string());
        element(x, 6, "CtrlSum", &euros(sum));
        x.push_str("      <PmtTpInf>\n        <SvcLvl>\n");
        element(x, 10, "Cd", "SEPA");
        x.push_str("        </SvcLvl>\n        <LclInstrm>\n");
        element(x, 10, "Cd", "CORE");
        x.push_str("        </LclInstrm>\n");
        element(x, 8, "SeqTp", sequence.code());
        x.push_str("      </PmtTpInf>\n");
        element(
            x,
            6,
            "ReqdColltnDt",
            &self.date.format("%Y-%m-%d").to_string(),
        );
        x.push_str("      <Cdtr>\n");
        element(x, 8, "Nm", &creditor.name);
        x.push_str("      </Cdtr>\n      <CdtrAcct>\n        <Id>\n");
        element(x, 10, "IBAN", &creditor.iban);
        x.push_str("        </Id>\n      </CdtrAcct>\n      <CdtrAgt>\n        <FinInstnId>\n");
        element(x, 10, "BIC", &creditor.bic);
        x.push_str("        </FinInstnId>\n      </CdtrAgt>\n");
        element(x, 6, "ChrgBr", "SLEV");
        x.push_str("      <CdtrSchmeId>\n        <Id>\n          <PrvtId>\n            <Othr>\n");
        element(x, 14, "Id", &creditor.identifier);
        x.push_str("              <SchmeNm>\n");
        element(x, 16, "Prtry", "SEPA");
        x.push_str(
            "              </SchmeNm>\n            </Othr>\n          </PrvtId>\n        </Id>\n      </CdtrSchmeId>\n",
        );
        for t in group {
            transaction(x, t);
        }
        x.push_str("    </PmtInf>\n");
    }
}

fn transaction(x: &mut String, t: &Transaction) {
    x.push_str("      <DrctDbtTxInf>\n        <PmtId>\n");
    element(x, 10, "EndToEndId", &t.end_to_end_id);
    x.push_str("        </PmtId>\n");
    let _ = writeln!(
        x,
        "        <InstdAmt Ccy=\"EUR\">{}</InstdAmt>",
        euros(t.amount)
    );
    x.push_str("        <DrctDbtTx>\n          <MndtRltdInf>\n");
    element(x, 12, "MndtId", &t.mandate_reference);
    element(
        x,
        12,
        "DtOfSgntr",
        &t.mandate_signed_on.format("%Y-%m-%d").to_string(),
    );
    x.push_str("          </MndtRltdInf>\n        </DrctDbtTx>\n");
    // The debtor's BIC is not collected (IBAN-only is the SEPA rule since 2016).
    x.push_str("        <DbtrAgt>\n          <FinInstnId>\n            <Othr>\n");
    element(x, 14, "Id", "NOTPROVIDED");
    x.push_str("            </Othr>\n          </FinInstnId>\n        </DbtrAgt>\n");
    x.push_str("        <Dbtr>\n");
    element(x, 10, "Nm", &truncate(&t.debtor_name, 70));
    x.push_str("        </Dbtr>\n        <DbtrAcct>\n          <Id>\n");
    element(x, 12, "IBAN", &t.debtor_iban);
    x.push_str("          </Id>\n        </DbtrAcct>\n        <RmtInf>\n");
    element(x, 10, "Ustrd", &truncate(&t.remittance, 140));
    x.push_str("        </RmtInf>\n      </DrctDbtTxInf>\n");
}

/// `<name>text</name>` on its own line, `indent` spaces in, the text escaped.
fn element(x: &mut String, indent: usize, name: &str, text: &str) {
    let _ = writeln!(x, "{:indent$}<{name}>{}</{name}>", "", escape(text));
}

/// Escapes the five XML special characters and drops the characters XML 1.0 cannot
/// carry (control characters other than tab, line feed and carriage return).
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters (the schema counts characters, not bytes).
fn truncate(text: &str, max: usize) -> String {
    text.trim().chars().take(max).collect()
}

/// Integer cents as euros with two decimals: `3150` → `31.50`.
#[must_use]
pub fn euros(amount: Cents) -> String {
    let cents = amount.value();
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euros_have_two_decimals() {
        assert_eq!(euros(Cents(3150)), "31.50");
        assert_eq!(euros(Cents(5)), "0.05");
        assert_eq!(euros(Cents(100_000)), "1000.00");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("Dupont & Fils <\"l'an\">\u{7}"),
            "Dupont &amp; Fils &lt;&quot;l&apos;an&quot;&gt;"
        );
    }
}
