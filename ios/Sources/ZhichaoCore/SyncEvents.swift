import Foundation
import ObjectiveC

extension FieldStore {
    /// This store's sync events as an `AsyncStream`.
    ///
    /// Any number of streams may be open at once (a screen and a status bar): each receives
    /// every event from the moment `syncEvents()` is called, and ending one (its task cancelled,
    /// or the stream released) removes only that one, never touching the store. The streams share
    /// the store's one observer slot, installed on first use: do not also call
    /// `setSyncObserver(observer:)` on a store whose events you read this way. Events arrive on
    /// the library's events thread and are buffered without limit, so a slow consumer (e.g. on
    /// the main actor) never slows a sync down and never misses a `.done` or `.failed`; events
    /// sent before the first iteration wait in the buffer.
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

    /// Only the `SyncState` changes of `syncEvents()`: for a status icon.
    public func syncStates() -> AsyncStream<SyncState> {
        observedStream { event in
            if case let .stateChanged(state) = event {
                return state
            }
            return nil
        }
    }

    /// A stream of what `select` keeps of the sync events, registered with the store's fan-out
    /// now and unregistered when the stream ends.
    private func observedStream<Element>(
        _ select: @escaping (SyncEvent) -> Element?
    ) -> AsyncStream<Element> {
        let fanOut = SyncFanOut.of(self)
        return AsyncStream(Element.self, bufferingPolicy: .unbounded) { continuation in
            let id = fanOut.add { event in
                if let element = select(event) {
                    continuation.yield(element)
                }
            }
            continuation.onTermination = { _ in
                fanOut.remove(id)
            }
        }
    }
}

/// The store's one sync observer (installed on first use, kept alive with the store): hands
/// each event to every registered stream. Called on the library's events thread; the lock
/// guards the listeners, which is why the unchecked conformance holds (the records are not
/// `Sendable` before Swift 6 compilers).
final class SyncFanOut: SyncObserver, @unchecked Sendable {
    private static var key: UInt8 = 0
    private static let creation = NSLock()

    private let lock = NSLock()
    private var listeners: [UInt64: (SyncEvent) -> Void] = [:]
    private var next: UInt64 = 0

    /// The fan-out of `store`, created and installed as its observer the first time.
    static func of(_ store: FieldStore) -> SyncFanOut {
        creation.lock()
        defer { creation.unlock() }
        if let existing = objc_getAssociatedObject(store, &key) as? SyncFanOut {
            return existing
        }
        let fanOut = SyncFanOut()
        objc_setAssociatedObject(store, &key, fanOut, .OBJC_ASSOCIATION_RETAIN)
        store.setSyncObserver(observer: fanOut)
        return fanOut
    }

    func add(_ listener: @escaping (SyncEvent) -> Void) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        next += 1
        listeners[next] = listener
        return next
    }

    func remove(_ id: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        listeners[id] = nil
    }

    func onEvent(event: SyncEvent) {
        lock.lock()
        let current = Array(listeners.values)
        lock.unlock()
        for listener in current {
            listener(event)
        }
    }
}
