import Foundation
import XCTest
import ZhichaoCore

/// The offline watch list of over-limit departures (超限出场), end to end: a source unit's
/// weighbridge uploads a record of a truck that left over the limit, the server writes it into
/// the county's watch list of the day, an officer's phone receives the list when it syncs, and
/// a patrol types the plate at the roadside with no signal. A plate that is not one is refused
/// at the boundary; enterprises do not read the lists.
final class WatchListTests: ServerTestCase {
    /// The weighbridge's unit (a valid USCC, used by no other test).
    private static let unit = "9144030071526726XG"
    /// The truck's plate (no other test uploads weighings of it).
    private static let plate = "晋EW5230"

    func testADepartureUploadedByAWeighbridgeIsFoundOfflineAfterASync() async throws {
        // Six axles, axle count only (limit 49 t), 52.30 t, let out: 3.30 t over.
        let bridge = try await Weighbridge.issued(unit: Self.unit)
        let weighedAtMs = Int64(Date().timeIntervalSince1970 * 1000) - 5 * 60_000
        let answer = try await bridge.upload(
            .sixAxleDeparture(
                recordId: "wl-0001", plate: Self.plate, grossKg: 52_300, weighedAtMs: weighedAtMs))
        XCTAssertEqual(answer.status, 201, answer.body)
        assertContains(answer.body, "\"status\":\"stored\"")
        assertContains(answer.body, "\"departure\":true")

        let wang = try await Phones.officer("officer:wang-wl", team: "team-wl")
        let result = try await wang.store.syncNow()
        XCTAssertTrue(result.rejected.isEmpty, "\(result)")

        // Typed as people type it: lower case, with the printed dot.
        let hits = try wang.store.watchlistLookup(plate: "晋e·W5230")
        XCTAssertEqual(hits.count, 1, "\(hits)")
        let hit = try XCTUnwrap(hits.first)
        XCTAssertEqual(hit.plate, Self.plate)
        XCTAssertEqual(hit.platePrinted, "晋E·W5230")
        XCTAssertEqual(hit.unit, Self.unit)
        XCTAssertEqual(hit.unitName, "", "the unit has no profile on this server")
        XCTAssertEqual(hit.recordId, "wl-0001")
        XCTAssertEqual(hit.weighedAtMs, weighedAtMs)
        XCTAssertEqual(hit.exitAtMs, weighedAtMs + 60_000)
        XCTAssertEqual(hit.grossKg, 52_300)
        XCTAssertEqual(hit.limitKg, 49_000)
        XCTAssertEqual(hit.excessKg, 3_300)
        XCTAssertTrue(hit.configurationAssumed, "only the axle count was reported")
        XCTAssertEqual(hit.yearCount, 1)
        XCTAssertFalse(hit.revocationThresholdCrossed)
        let other = try wang.store.watchlistLookup(plate: "晋E12345")
        XCTAssertTrue(other.isEmpty, "\(other)")

        let bad = await assertThrowsApiError(
            .validation, try wang.store.watchlistLookup(plate: "晋EI2345"))
        assertContains(bad?.reason, "letter I")

        // Enterprises do not read the watch lists.
        let company = try await Phones.enterprise()
        await assertThrowsApiError(
            .unauthorized, try company.store.watchlistLookup(plate: Self.plate))
    }
}
