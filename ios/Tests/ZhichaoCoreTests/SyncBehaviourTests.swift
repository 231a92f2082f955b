import Dispatch
import Foundation
import XCTest
import ZhichaoCore

/// Sync as the app drives it: observed, in the background, and without a network.
final class SyncBehaviourTests: ServerTestCase {
    func testSyncEventsAreObservedAsAFlow() async throws {
        let phone = try await Phones.officer("officer:wang-sb", team: "team-sb")
        _ = try phone.store.createRoadsideCheck(input: roadsideCheck("晋E70001"))
        // The observer is installed here; the events wait in the stream's buffer.
        let events = phone.store.syncEvents()
        let result = try await phone.store.syncNow()
        let (seen, complete) = await collect(events, timeout: 10) { event in
            switch event {
            case .done, .failed: return true
            default: return false
            }
        }
        XCTAssertTrue(complete, "no .done or .failed within 10 s: \(seen)")
        XCTAssertTrue(seen.contains(.connecting), "\(seen)")
        XCTAssertTrue(seen.contains(.stateChanged(state: .syncing)), "\(seen)")
        XCTAssertTrue(
            seen.contains { event in
                if case let .progress(pushed, _, _) = event {
                    return pushed == 1
                }
                return false
            }, "\(seen)")
        XCTAssertEqual(result.pushed, 1)
        XCTAssertEqual(phone.store.syncState(), .stopped)
    }

    func testSeveralCollectorsEachSeeEveryEventAndStoppingAfterCloseIsSafe() async throws {
        let phone = try await Phones.officer("officer:he-sb", team: "team-sb7")
        _ = try phone.store.createRoadsideCheck(input: roadsideCheck("晋E70008"))
        // Screen A opens a stream, screen B opens one, screen A's ends.
        var screenA: AsyncStream<SyncEvent>? = phone.store.syncEvents()
        let screenB = phone.store.syncEvents()
        XCTAssertNotNil(screenA)
        screenA = nil
        _ = try await phone.store.syncNow()
        let (seen, complete) = await collect(screenB, timeout: 10) { event in
            if case .done = event { return true }
            return false
        }
        XCTAssertTrue(complete, "screen B saw no .done: \(seen)")
        XCTAssertTrue(seen.contains(.connecting), "\(seen)")
    }

    func testTheBackgroundSyncSendsNewWorkSoon() async throws {
        let phone = try await Phones.officer("officer:li-sb", team: "team-sb2")
        let states = phone.store.syncStates()
        try phone.store.startSync(intervalSecs: 300)
        // Nudged by the local change, not after the five-minute interval.
        _ = try phone.store.createRoadsideCheck(input: roadsideCheck("晋E70002"))
        try await waitUntil("the background sync sent the case", timeout: 20) {
            try phone.store.pendingDocuments() == 0
        }
        await phone.store.stopSync()
        XCTAssertEqual(phone.store.syncState(), .stopped)
        let (seen, _) = await collect(states, timeout: 5) { $0 == .stopped }
        XCTAssertTrue(seen.contains(.syncing), "\(seen)")
        XCTAssertTrue(seen.contains(.idle), "\(seen)")
    }

    func testWithoutANetworkTheWorkStaysAndTheErrorIsAValue() async throws {
        let online = try await Phones.officer("officer:zhao-sb", team: "team-sb3")
        // The same enrolled device, pointed at a server that does not answer.
        let offline = try FieldStore.open(
            directory: Harness.freshDir("offline").path, serverUrl: "http://127.0.0.1:1",
            secrets: online.secrets)
        _ = try offline.createRoadsideCheck(input: roadsideCheck("晋E70003"))
        let error = await assertThrowsApiError(.network, try await offline.syncNow())
        XCTAssertEqual(error?.isTransient, true)
        let message = error?.userMessage ?? ""
        XCTAssertTrue(message.hasPrefix("网络不可用"), message)
        XCTAssertEqual(try offline.pendingDocuments(), 1)
        XCTAssertEqual(offline.syncState(), .stopped)
    }

    func testSyncNowWithTwentyPendingCases() async throws {
        let phone = try await Phones.officer("officer:qian-sb", team: "team-sb4")
        for i in 0..<20 {
            let created = try phone.store.createRoadsideCheck(
                input: roadsideCheck(String(format: "晋E8%04ld", i)))
            _ = try phone.store.recordMeasurement(
                caseId: created.id, measurement: MeasurementInput(grossKg: UInt32(48_000 + i * 250)))
        }
        XCTAssertEqual(try phone.store.pendingDocuments(), 20)
        let started = DispatchTime.now().uptimeNanoseconds
        let result = try await phone.store.syncNow()
        let ms = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
        XCTAssertEqual(result.pushed, 20, "\(result)")
        XCTAssertEqual(try phone.store.pendingDocuments(), 0)
        // A figure for the notes, not an assertion: Swift → Rust → loopback → server.
        print(
            "    sync now, 20 pending cases (iOS simulator): \(String(format: "%.1f", ms)) ms, "
                + "\(result.bytesSent) B sent, \(result.bytesReceived) B received")
    }

    func testAThrowingObserverOrLoggerDoesNotBreakSync() async throws {
        setLogSink(sink: ThrowingLogSink(), maxLevel: .trace)
        defer { clearLogSink() }
        let phone = try await Phones.officer("officer:wu-sb", team: "team-sb6")
        phone.store.setSyncObserver(observer: ThrowingObserver())
        _ = try phone.store.createRoadsideCheck(input: roadsideCheck("晋E70006"))
        let result = try await phone.store.syncNow()
        XCTAssertEqual(result.pushed, 1)
        try phone.store.startSync(intervalSecs: 300)
        _ = try phone.store.createRoadsideCheck(input: roadsideCheck("晋E70007"))
        try await waitUntil("the background sync sent the case", timeout: 20) {
            try phone.store.pendingDocuments() == 0
        }
        await phone.store.stopSync()
    }

    func testSigningOutRemovesTheSecretAndKeepsTheWork() async throws {
        let phone = try await Phones.officer("officer:sun-sb", team: "team-sb5")
        _ = try phone.store.createRoadsideCheck(input: roadsideCheck("晋E70005"))
        try await phone.store.signOut()
        XCTAssertNil(phone.secrets.secret)
        XCTAssertEqual(try phone.store.pendingDocuments(), 1)
        await assertThrowsApiError(.unauthorized, try await phone.store.syncNow())
        await assertThrowsApiError(
            .unauthorized,
            try FieldStore.open(
                directory: Harness.freshDir("again").path, serverUrl: Harness.serverUrl(),
                secrets: phone.secrets))
    }
}

/// An app error the library must survive: thrown by the observer and the log sink below.
struct AppCallbackBroken: Error {}

/// A sync observer whose every call throws (an app bug): sync must go on.
final class ThrowingObserver: SyncObserver, @unchecked Sendable {
    func onEvent(event: SyncEvent) throws {
        throw AppCallbackBroken()
    }
}

/// A log sink whose every call throws (an app bug): the library must go on.
final class ThrowingLogSink: LogSink, @unchecked Sendable {
    func log(record: LogRecord) throws {
        throw AppCallbackBroken()
    }
}
