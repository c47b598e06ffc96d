//! Hooks into the relay's publish cycle, for benchmarks and fault-injection tests.

use std::ops::ControlFlow;

use uuid::Uuid;

/// One event whose JetStream acknowledgement arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckedEvent {
    pub event_id: Uuid,
    pub global_position: i64,
    /// The message's sequence in the stream.
    pub stream_sequence: u64,
    /// JetStream already held this event (a re-publish).
    pub duplicate: bool,
}

/// Called by the relay at fixed points of each batch. Production code needs none.
pub trait RelayObserver: Send + Sync + std::fmt::Debug {
    /// JetStream acknowledged this event; called in commit order, as soon as the ack
    /// arrived (RabbitMQ's confirm, when that sink is on, may still be outstanding, and
    /// the checkpoint has not moved yet).
    fn acked(&self, _event: &AckedEvent) {}

    /// Every sink confirmed the batch and the checkpoint is about to be written.
    /// `Break` makes the relay stop right there, as if its process died between
    /// publish and checkpoint: [`crate::Relay::run`] returns
    /// [`crate::RelayError::InjectedCrash`] without writing the checkpoint.
    fn before_checkpoint(&self, _events: usize) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}
