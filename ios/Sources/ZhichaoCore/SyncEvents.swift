import Foundation

extension FieldStore {
    /// This store's sync events as an `AsyncStream`.
    ///
    /// Calling it installs the store's sync observer at once (a store has one observer at a time:
    /// a later `syncEvents()`, `syncStates()` or `setSyncObserver(observer:)` replaces it, and
    /// this stream then receives nothing more). The stream's end removes the observer: when the
    /// task iterating it is cancelled, or the stream and its iterator are released (leaving a
    /// `for await` loop with `break` and letting the stream go out of scope). Events arrive on
    /// the library's sync threads and are buffered without limit, so a slow consumer (e.g. on the
    /// main actor) never slows a sync down and never misses a `.done` or `.failed`; events sent
    /// before the first iteration wait in the buffer.
    ///
    /// ```swift
    /// let events = store.syncEvents()
    /// Task { @MainActor in
    ///     for await event in events { render(event) }
    /// }
    /// ```
    public func syncEvents() -> AsyncStream<SyncEvent> {
        observedStream { $0 }
    }

    /// Only the `SyncState` changes of `syncEvents()` (the same single observer): for a status
    /// icon.
    public func syncStates() -> AsyncStream<SyncState> {
        observedStream { event in
            if case let .stateChanged(state) = event {
                return state
            }
            return nil
        }
    }

    /// A stream of what `select` keeps of the sync events, over an observer installed now and
    /// removed when the stream ends.
    private func observedStream<Element>(
        _ select: @escaping (SyncEvent) -> Element?
    ) -> AsyncStream<Element> {
        AsyncStream(Element.self, bufferingPolicy: .unbounded) { continuation in
            let observer = ForwardingSyncObserver { event in
                if let element = select(event) {
                    continuation.yield(element)
                }
            }
            self.setSyncObserver(observer: observer)
            continuation.onTermination = { [weak self] _ in
                self?.setSyncObserver(observer: nil)
            }
        }
    }
}

/// The observer behind `syncEvents()`: hands each event to a closure. Called on the library's
/// sync threads; `AsyncStream.Continuation.yield` may be called from any thread, which is why
/// the unchecked conformance holds (the records are not `Sendable` before Swift 6 compilers).
private final class ForwardingSyncObserver: SyncObserver, @unchecked Sendable {
    private let forward: (SyncEvent) -> Void

    init(_ forward: @escaping (SyncEvent) -> Void) {
        self.forward = forward
    }

    func onEvent(event: SyncEvent) {
        forward(event)
    }
}
