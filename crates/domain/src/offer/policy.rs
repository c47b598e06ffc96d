//! The offer-to-contract policy: an accepted offer asks Legal for a contract.

use super::OfferEvent;
use crate::contract::ContractCommand;
use crate::values::{ContractId, OfferId};

/// The contract to request when an offer event calls for one.
///
/// For `OfferAccepted` it returns the contract id derived from the offer (see
/// [`ContractId::for_offer`]) and the `RequestContract` command carrying the
/// accepted terms; for every other event, `None`. Because the id is derived,
/// running the policy twice targets the same contract, whose second request
/// is refused with `contract_already_requested`, which the caller treats as
/// success.
#[must_use]
pub fn contract_request_for(
    offer_id: OfferId,
    event: &OfferEvent,
) -> Option<(ContractId, ContractCommand)> {
    match event {
        OfferEvent::OfferAccepted {
            customer_id,
            product,
            monthly_premium,
            accepted_on,
        } => Some((
            ContractId::for_offer(offer_id),
            ContractCommand::RequestContract {
                customer_id: *customer_id,
                product: product.clone(),
                monthly_premium: *monthly_premium,
                offer_id: Some(offer_id),
                requested_on: *accepted_on,
            },
        )),
        OfferEvent::OfferProposed { .. }
        | OfferEvent::OfferDeclined { .. }
        | OfferEvent::OfferWithdrawn { .. } => None,
    }
}

/// The event types that [`contract_request_for`] reacts to, for subscribers
/// that filter the event stream before deserialising.
pub const CONTRACT_REQUEST_TRIGGERS: &[&str] = &["OfferAccepted"];

#[cfg(test)]
mod tests {
    use cqrs_es::DomainEvent as _;

    use super::*;
    use crate::offer::build_examples;

    #[test]
    fn an_accepted_offer_requests_its_contract() {
        let offer_id = OfferId::new(crate::examples::OFFER);
        let examples = build_examples().unwrap();
        let accepted = examples
            .iter()
            .find(|event| event.event_type() == "OfferAccepted")
            .unwrap();
        let (contract_id, command) = contract_request_for(offer_id, accepted).unwrap();
        assert_eq!(contract_id, ContractId::for_offer(offer_id));
        let OfferEvent::OfferAccepted {
            customer_id,
            product,
            monthly_premium,
            accepted_on,
        } = accepted.clone()
        else {
            unreachable!("the example was selected by its type")
        };
        assert_eq!(
            command,
            ContractCommand::RequestContract {
                customer_id,
                product,
                monthly_premium,
                offer_id: Some(offer_id),
                requested_on: accepted_on,
            }
        );
        // Running the policy again yields the same target: it is idempotent.
        assert_eq!(
            contract_request_for(offer_id, accepted).unwrap().0,
            contract_id
        );
    }

    #[test]
    fn other_offer_events_request_nothing() {
        let offer_id = OfferId::new(crate::examples::OFFER);
        for event in build_examples().unwrap() {
            let triggers = CONTRACT_REQUEST_TRIGGERS.contains(&event.event_type().as_str());
            assert_eq!(
                contract_request_for(offer_id, &event).is_some(),
                triggers,
                "{event:?}"
            );
        }
    }
}
