import XCTest
import ZhichaoCore

/// Smoke test of the generated bindings: a call crosses into the Rust core and back, with the
/// uniffi contract and checksum checks that run on the first call.
final class NormalizePlateTests: XCTestCase {
    func testNormalizesATypedPlateAndRefusesTheLetterI() throws {
        let plate = try normalizePlate(text: "晋e·１２３４５")
        XCTAssertEqual(plate.plate, "晋E12345")
        XCTAssertEqual(plate.printed, "晋E·12345")

        XCTAssertThrowsError(try normalizePlate(text: "晋EI2345")) { error in
            guard let apiError = error as? ApiError, case let .Validation(reason) = apiError else {
                return XCTFail("expected ApiError.Validation, got \(error)")
            }
            XCTAssertTrue(reason.contains("letter I"), reason)
            XCTAssertTrue(apiError.localizedDescription.contains("letter I"), apiError.localizedDescription)
        }
    }
}
