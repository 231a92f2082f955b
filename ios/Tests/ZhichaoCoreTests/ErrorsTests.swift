import Foundation
import XCTest
import ZhichaoCore

/// Bad input from the app or the network is a typed error and changes nothing.
final class ErrorsTests: ServerTestCase {
    func testEnrollmentErrorsAreTyped() async throws {
        let server = try Harness.serverUrl()
        let secrets = MemorySecretStore()
        await assertThrowsApiError(
            .unauthorized,
            try FieldStore.open(directory: Harness.freshDir("none").path, serverUrl: server, secrets: secrets))
        await assertThrowsApiError(
            .unauthorized,
            try await enroll(serverUrl: server, code: "not-a-code", deviceId: newDeviceId(), secrets: secrets))
        await assertThrowsApiError(
            .validation,
            try await enroll(
                serverUrl: "https://example.invalid", code: "code", deviceId: newDeviceId(), secrets: secrets))
        await assertThrowsApiError(
            .validation,
            try await enroll(
                serverUrl: server, code: "code", deviceId: "a device id with spaces", secrets: secrets))
        XCTAssertNil(secrets.secret, "nothing stored")
        let a = newDeviceId()
        XCTAssertEqual(a.count, 35, a)
        assertContains(a, "zc-")
    }

    func testBadInputIsAValidationErrorWithItsReason() async throws {
        let phone = try await Phones.officer("officer:wang-er", team: "team-er")
        let plate = await assertThrowsApiError(
            .validation, try phone.store.createRoadsideCheck(input: roadsideCheck("晋EI2345")))
        assertContains(plate?.reason, "letter I")
        assertContains(plate?.userMessage, "输入有误")
        var alone = roadsideCheck("晋E12345")
        alone.officers = Array(patrol().prefix(1))
        let oneOfficer = await assertThrowsApiError(
            .validation, try phone.store.createRoadsideCheck(input: alone))
        assertContains(oneOfficer?.reason, "two officers")
        var noFix = roadsideCheck("晋E12345")
        noFix.gps = GeoFix(latitude: 0, longitude: 0)
        await assertThrowsApiError(.validation, try phone.store.createRoadsideCheck(input: noFix))
        XCTAssertEqual(try phone.store.pendingDocuments(), 0, "nothing was created")

        let created = try phone.store.createRoadsideCheck(input: roadsideCheck("晋E12345"))
        await assertThrowsApiError(
            .validation,
            try phone.store.recordMeasurement(caseId: created.id, measurement: MeasurementInput(grossKg: 0)))
        XCTAssertNil(try phone.store.case(caseId: created.id).measurement)
        // A well-formed id of a case that is not on this phone (another team's).
        let zhou = try await Phones.officer("officer:zhou-er", team: "team-er9")
        let elsewhere = try zhou.store.createRoadsideCheck(input: roadsideCheck("晋E99999"))
        await assertThrowsApiError(.notFound, try phone.store.case(caseId: elsewhere.id))
        await assertThrowsApiError(.validation, try phone.store.case(caseId: "not an id"))
        await assertThrowsApiError(
            .validation, try phone.store.recordStage(caseId: created.id, stage: .decided, note: ""))
    }

    func testRefusedPhotosStoreNothing() async throws {
        let phone = try await Phones.officer("officer:li-er", team: "team-er2")
        let created = try phone.store.createRoadsideCheck(input: roadsideCheck("晋E12345"))
        let photos = try Harness.photosDir()
        if let photos {
            let truncated = await assertThrowsApiError(
                .validation,
                try await phone.store.addPhotoFile(
                    docId: created.id,
                    path: photos.appendingPathComponent("corrupt/derived_recurser_Portrait_6_trunc60pct.jpg").path,
                    caption: "车牌"))
            assertContains(truncated?.reason, "truncated")
            await assertThrowsApiError(
                .validation,
                try await phone.store.addPhotoFile(
                    docId: created.id,
                    path: photos.appendingPathComponent("corrupt/synthetic_png_header_100000x100000.png").path,
                    caption: ""))
        } else {
            // Without the team's photos: a JPEG cut short the same way (60 %).
            let whole = cameraJpeg(seed: 21)
            let truncated = await assertThrowsApiError(
                .validation,
                try await phone.store.addPhotoBytes(
                    docId: created.id, bytes: Data(whole.prefix(whole.count * 6 / 10)), caption: "车牌"))
            assertContains(truncated?.reason, "truncated")
        }
        await assertThrowsApiError(
            .validation, try await phone.store.addPhotoBytes(docId: created.id, bytes: Data(), caption: ""))
        XCTAssertEqual(try phone.store.pendingPhotos(), 0)
        XCTAssertEqual(try phone.store.evidence(docId: created.id).count, 0)

        // HEIC (the iPhone default) is kept as evidence but has no preview: hand JPEG instead.
        if let photos {
            let heic = try await phone.store.addPhotoFile(
                docId: created.id,
                path: photos.appendingPathComponent("heic/ianare_IMG_5195_iPhone11ProMax.HEIC").path,
                caption: "车牌")
            XCTAssertNotNil(heic.previewError)
            XCTAssertNil(heic.evidence.thumbnailSha256)
            XCTAssertEqual(heic.evidence.format, "heif")
        }
        try skipFixtureAsserts(photos, "the sample photos' refusals (truncated, too large) and the HEIC photo")
    }
}
