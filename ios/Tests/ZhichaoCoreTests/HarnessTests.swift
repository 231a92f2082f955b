import Foundation
import XCTest

/// The harness itself: the run's server answers and hands out enrollment codes.
final class HarnessTests: ServerTestCase {
    func testServerIsReachable() async throws {
        let url = try Harness.url("/healthz")
        let request = URLRequest(url: url, timeoutInterval: 10)
        let (data, response) = try await URLSession.shared.data(for: request)
        XCTAssertEqual((response as? HTTPURLResponse)?.statusCode, 200, String(decoding: data, as: UTF8.self))
    }

    func testEnrollmentCodesCanBeObtainedForADevice() async throws {
        let officer = try await Admin.enrollmentCode(
            device: Harness.deviceId(), name: "officer:wang", principal: .officer(team: "team-1"))
        let enterprise = try await Admin.enrollmentCode(
            device: Harness.deviceId(), name: "unit:914403001922038216", principal: .enterprise())
        XCTAssertGreaterThanOrEqual(officer.count, 8, "code too short: \(officer)")
        XCTAssertNotEqual(officer, enterprise)
    }
}
