import XCTest
import ZhichaoCore

/// The library's `tracing` events reach the app's log sink, at the level asked for.
final class LogSinkTests: ServerTestCase {
    func testEventsAreForwardedAtTheChosenLevel() async throws {
        let sink = RecordingLogSink()
        setLogSink(sink: sink, maxLevel: .info)
        do {
            defer { clearLogSink() }
            let phone = try await Phones.officer("officer:wang-log", team: "team-log")
            _ = try await phone.store.syncNow()
        }
        let records = sink.records.get()
        XCTAssertTrue(records.contains { $0.message == "device enrolled" }, "\(records)")
        XCTAssertTrue(
            records.contains { $0.message == "sync done" && $0.fields.contains("pushed=") }, "\(records)")
        XCTAssertFalse(records.contains { $0.level == .debug || $0.level == .trace }, "\(records)")
        XCTAssertFalse(
            records.contains { $0.fields.contains("zat_") || $0.fields.contains("zrt_") }, "no token in the log")
    }
}

/// Keeps every record; called on the library's threads.
final class RecordingLogSink: LogSink, @unchecked Sendable {
    let records = Locked<[LogRecord]>([])

    func log(record: LogRecord) {
        records.update { $0.append(record) }
    }
}
