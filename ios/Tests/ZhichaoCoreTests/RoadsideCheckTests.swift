import Foundation
import XCTest
import ZhichaoCore

/// The patrol's main flow on one phone against the real server: a roadside check is recorded
/// offline, classified, photographed with a real phone photo, synced, and a teammate's phone
/// receives it.
final class RoadsideCheckTests: ServerTestCase {
    func testARoadsideCheckIsClassifiedPhotographedAndSynced() async throws {
        let wang = try await Phones.officer("officer:wang-rc", team: "team-rc")
        XCTAssertEqual(wang.account.role, .officer)
        XCTAssertEqual(wang.account.team, "team-rc")
        XCTAssertNotNil(wang.secrets.secret, "the tokens went to the host's secret store")
        XCTAssertFalse(try anyFile(in: wang.dir, contains: "zrt_"), "no refresh token in the store's files")

        let created = try wang.store.createRoadsideCheck(input: roadsideCheck("晋e·12345"))
        XCTAssertEqual(created.status, .draft)
        XCTAssertEqual(created.platePrinted, "晋E·12345")
        XCTAssertTrue(created.caseNumber.hasPrefix(wang.account.devicePrefix + "-"), created.caseNumber)

        // 52.3 t on a 49 t six-axle articulated vehicle: 3.3 t over, 6.73 %, ¥2 000 (62号令 Art. 43).
        let verdict = try wang.store.recordMeasurement(
            caseId: created.id, measurement: MeasurementInput(grossKg: 52_300))
        XCTAssertTrue(verdict.overLimit)
        XCTAssertEqual(verdict.limitKg, 49_000)
        XCTAssertEqual(verdict.excessKg, 3_300)
        XCTAssertEqual(verdict.rateText, "6.73%")
        XCTAssertEqual(verdict.penaltyMaxYuan, 2_000)
        XCTAssertEqual(try wang.store.case(caseId: created.id).classification, verdict)

        // A real phone photo with EXIF GPS; without the team's photos, one drawn here.
        let photos = try Harness.photosDir()
        let added: PhotoAdded
        if let photos {
            let photo = photos.appendingPathComponent("gps/mei_Apple_iPhone_4_gps.jpg")
            added = try await wang.store.addPhotoFile(
                docId: created.id, path: photo.path, caption: "车辆及车牌")
            XCTAssertNotNil(added.evidence.gps, "GPS from the photo's EXIF")
            assertContains(added.camera, "Apple")
        } else {
            added = try await wang.store.addPhotoBytes(
                docId: created.id, bytes: cameraJpeg(seed: 1), caption: "车辆及车牌")
        }
        XCTAssertFalse(added.alreadyListed)
        if case .queued = added.evidence.upload {
        } else {
            XCTFail("upload \(added.evidence.upload), expected queued")
        }
        let thumbnail = try XCTUnwrap(added.evidence.thumbnailPath)
        XCTAssertTrue(FileManager.default.fileExists(atPath: thumbnail), thumbnail)
        XCTAssertEqual(try wang.store.pendingPhotos(), 3, "original, evidence copy, thumbnail")

        let result = try await wang.store.syncNow()
        XCTAssertTrue(result.rejected.isEmpty, "\(result)")
        XCTAssertGreaterThanOrEqual(result.pushed, 1, "\(result)")
        XCTAssertEqual(result.photosUploaded, 3, "\(result)")
        XCTAssertEqual(result.photosPending, 0, "\(result)")
        XCTAssertEqual(try wang.store.pendingDocuments(), 0)
        let listed = try single(wang.store.evidence(docId: created.id))
        XCTAssertEqual(listed.upload, .onServer)
        XCTAssertTrue(listed.completeOnServer)

        // Officer Li of the same team receives the case, verdict and photo reference.
        let li = try await Phones.officer("officer:li-rc", team: "team-rc")
        let pulled = try await li.store.syncNow()
        XCTAssertGreaterThanOrEqual(pulled.pulled, 1, "\(pulled)")
        let received = try single(li.store.casesByPlate(plate: "晋E12345"))
        XCTAssertEqual(received.id, created.id)
        XCTAssertEqual(received.classification, verdict)
        XCTAssertEqual(received.photoCount, 1)
        XCTAssertNil(received.classificationError)

        try skipFixtureAsserts(photos, "the asserts on a real phone photo's EXIF (GPS, camera)")
    }

    func testASiteInspectionRecordsTheEquipmentChecklist() async throws {
        let zhang = try await Phones.officer("officer:zhang-si", team: "team-si")
        let created = try zhang.store.createSiteInspection(
            input: SiteInspectionInput(sourceUnit: Phones.unit, place: "某煤业出场口", officers: patrol()))
        XCTAssertEqual(created.kind, .siteInspection)
        XCTAssertEqual(created.checklist.count, 4)
        let updated = try zhang.store.setCheckItem(
            caseId: created.id, item: .displayScreen, status: .faulty, note: "显示屏不显示超限信息")
        let screen = try single(updated.checklist, where: { $0.item == .displayScreen })
        XCTAssertEqual(screen.status, .faulty)
        XCTAssertEqual(screen.note, "显示屏不显示超限信息")
        XCTAssertEqual(try zhang.store.casesByUnit(sourceUnit: Phones.unit).map(\.id), [created.id])
        let result = try await zhang.store.syncNow()
        XCTAssertTrue(result.rejected.isEmpty, "\(result)")
    }

    /// Whether a file under `dir` holds `text` (as bytes).
    private func anyFile(in dir: URL, contains text: String) throws -> Bool {
        let needle = Data(text.utf8)
        guard let files = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: [.isRegularFileKey])
        else { throw HarnessError("cannot list \(dir.path)") }
        for case let file as URL in files {
            guard try file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true else { continue }
            if try Data(contentsOf: file).range(of: needle) != nil {
                return true
            }
        }
        return false
    }
}
