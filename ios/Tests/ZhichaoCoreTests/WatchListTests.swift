import Foundation
import XCTest
import ZhichaoCore

/// The offline watch list of over-limit departures (超限出场): a patrol types a plate at the
/// roadside with no signal. The server writes the lists from the weighbridges' records; until a
/// weighing reaches this test server, a freshly synced phone holds none, so the lookup is empty,
/// and a plate that is not one is refused at the boundary.
final class WatchListTests: ServerTestCase {
    func testAFreshlySyncedPhoneLooksAPlateUpOffline() async throws {
        let wang = try await Phones.officer("officer:wang-wl", team: "team-wl")
        let result = try await wang.store.syncNow()
        XCTAssertTrue(result.rejected.isEmpty, "\(result)")
        let hits = try wang.store.watchlistLookup(plate: "晋e·12345")
        XCTAssertTrue(hits.isEmpty, "\(hits)")

        let bad = await assertThrowsApiError(
            .validation, try wang.store.watchlistLookup(plate: "晋EI2345"))
        assertContains(bad?.reason, "letter I")

        // Enterprises do not read the watch lists.
        let company = try await Phones.enterprise()
        await assertThrowsApiError(
            .unauthorized, try company.store.watchlistLookup(plate: "晋E12345"))
    }
}
