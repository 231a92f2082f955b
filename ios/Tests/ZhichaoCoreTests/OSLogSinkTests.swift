import Foundation
import OSLog
import XCTest
import ZhichaoCore

/// `OSLogSink`: the library's records in the unified log.
final class OSLogSinkTests: XCTestCase {
    func testLevelsMapToTheUnifiedLogsTypes() {
        XCTAssertEqual(OSLogSink.logType(for: .error).rawValue, OSLogType.error.rawValue)
        XCTAssertEqual(OSLogSink.logType(for: .warn).rawValue, OSLogType.error.rawValue)
        XCTAssertEqual(OSLogSink.logType(for: .info).rawValue, OSLogType.default.rawValue)
        XCTAssertEqual(OSLogSink.logType(for: .debug).rawValue, OSLogType.debug.rawValue)
        XCTAssertEqual(OSLogSink.logType(for: .trace).rawValue, OSLogType.debug.rawValue)
    }

    func testAnEntryIsTargetMessageAndFields() {
        XCTAssertEqual(
            OSLogSink.message(
                of: LogRecord(level: .info, target: "zhichao_core::client", message: "sync done", fields: "pushed=3")),
            "zhichao_core::client: sync done pushed=3")
        XCTAssertEqual(
            OSLogSink.message(of: LogRecord(level: .warn, target: "zhichao_mobile", message: "offline", fields: "")),
            "zhichao_mobile: offline")
    }

    /// A record logged through the sink is read back from this process's unified log.
    func testRecordsReachTheUnifiedLog() throws {
        let subsystem = "cn.zhichao.tests.\(UUID().uuidString)"
        let marker = "marker-\(UUID().uuidString)"
        let since = Date().addingTimeInterval(-5)
        OSLogSink(subsystem: subsystem).log(
            record: LogRecord(level: .warn, target: "zhichao_tests", message: marker, fields: "k=v"))

        let logStore: OSLogStore
        do {
            logStore = try OSLogStore(scope: .currentProcessIdentifier)
        } catch {
            throw XCTSkip("this process cannot read its unified log (OSLogStore: \(error))")
        }
        var found: OSLogEntryLog?
        for _ in 0..<50 where found == nil {
            let entries = try logStore.getEntries(
                at: logStore.position(date: since),
                matching: NSPredicate(format: "subsystem == %@", subsystem))
            found = entries.compactMap { $0 as? OSLogEntryLog }.first { $0.composedMessage.contains(marker) }
            if found == nil {
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        let entry = try XCTUnwrap(
            found, "no entry of subsystem \(subsystem) within 5 s (`log stream --predicate 'subsystem BEGINSWITH \"cn.zhichao.tests\"'` shows what arrives)")
        XCTAssertEqual(entry.composedMessage, "zhichao_tests: \(marker) k=v")
        XCTAssertEqual(entry.category, "core")
        XCTAssertEqual(entry.level, .error)
    }
}
