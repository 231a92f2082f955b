import XCTest
import ZhichaoCore

/// Two officers of one joint patrol edit the same case on two phones without signal; when both
/// sync, neither edit is lost (text fields are set by passing the whole new text; the core turns
/// it into edits that merge).
final class ConcurrentEditTests: ServerTestCase {
    func testBothOfficersEditsSurviveTheMerge() async throws {
        let wang = try await Phones.officer("officer:wang-ce", team: "team-ce")
        let li = try await Phones.officer("officer:li-ce", team: "team-ce")
        let created = try wang.store.createRoadsideCheck(input: roadsideCheck("晋E54321"))
        _ = try wang.store.setFindings(caseId: created.id, text: "超限运输")
        _ = try await wang.store.syncNow()
        _ = try await li.store.syncNow()
        XCTAssertEqual(try li.store.case(caseId: created.id).findings, "超限运输")

        // Offline, both edit the same text at different places, and Li records the weighing.
        _ = try wang.store.setFindings(caseId: created.id, text: "驾驶人张某称：超限运输")
        _ = try li.store.setFindings(caseId: created.id, text: "超限运输，货物为煤炭")
        _ = try li.store.recordMeasurement(caseId: created.id, measurement: MeasurementInput(grossKg: 55_000))

        _ = try await wang.store.syncNow()
        _ = try await li.store.syncNow()
        _ = try await wang.store.syncNow()
        for phone in [wang, li] {
            let merged = try phone.store.case(caseId: created.id)
            XCTAssertEqual(merged.findings, "驾驶人张某称：超限运输，货物为煤炭")
            XCTAssertEqual(merged.measurement?.grossKg, 55_000)
            XCTAssertEqual(merged.classification?.excessKg, 6_000)
        }
    }
}
