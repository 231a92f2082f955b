import XCTest
import ZhichaoCore

/// A rectification notice (整改通知书) from the patrol to a source unit, the enterprise's answer
/// with a photo, and the supervisor's review, each on its own phone through the real server.
final class NoticeFlowTests: ServerTestCase {
    func testANoticeIsAnsweredReturnedAndAccepted() async throws {
        let officer = try await Phones.officer("officer:wang-nf", team: "team-nf")
        let created = try officer.store.createRoadsideCheck(
            input: roadsideCheck("晋E66666", sourceUnit: Phones.unit))
        _ = try await officer.store.addPhotoBytes(
            docId: created.id, bytes: cameraJpeg(seed: 11), caption: "超限车辆")
        let notice = try officer.store.issueNotice(
            input: NoticeInput(
                caseId: created.id,
                unitName: "某某煤业有限公司",
                facts: "放行超限车辆出场",
                legalBasis: "公路安全保护条例 第四十一条",
                officers: patrol(),
                reviewBody: "阳城县人民政府",
                appealBody: "阳城县人民法院",
                deadlineDate: "2026-12-31"
            ))
        XCTAssertTrue(notice.open)
        XCTAssertEqual(notice.photos.count, 1, "the case photo's derivatives, never the original")
        let issued = try await officer.store.syncNow()
        XCTAssertTrue(issued.rejected.isEmpty, "\(issued)")

        // The enterprise receives the notice and answers with a photo.
        let company = try await Phones.enterprise()
        XCTAssertEqual(company.account.role, .enterprise)
        _ = try await company.store.syncNow()
        let received = try single(company.store.myNotices(), where: { $0.id == notice.id })
        XCTAssertEqual(received.facts, "放行超限车辆出场")
        XCTAssertEqual(received.deadlineDate, "2026-12-31")
        await assertThrowsApiError(
            .unauthorized, try company.store.createRoadsideCheck(input: roadsideCheck("晋E66666")))
        let draft = try company.store.respond(noticeId: notice.id, statement: "已更换显示屏")
        _ = try await company.store.addPhotoBytes(
            docId: draft.id, bytes: cameraJpeg(seed: 12), caption: "整改后的显示屏")
        let submitted = try company.store.submitResponse(responseId: draft.id)
        XCTAssertNotNil(submitted.submittedAtMs)
        await assertThrowsApiError(.conflict, try company.store.submitResponse(responseId: draft.id))
        let sent = try await company.store.syncNow()
        XCTAssertTrue(sent.rejected.isEmpty, "\(sent)")
        XCTAssertEqual(sent.photosUploaded, 3, "\(sent)")

        // The supervisor returns it with a reason.
        let office = try await Phones.supervisor("supervisor:zhao-nf")
        _ = try await office.store.syncNow()
        let response = try single(office.store.responses(noticeId: notice.id))
        XCTAssertEqual(response.statement, "已更换显示屏")
        XCTAssertEqual(response.evidence.count, 1)
        await assertThrowsApiError(
            .unauthorized, try officer.store.review(parentId: response.id, decision: .accept, comments: ""))
        _ = try office.store.review(
            parentId: response.id, decision: .`return`(reasons: ["照片看不清显示内容"]), comments: "请补拍")
        let returned = try await office.store.syncNow()
        XCTAssertTrue(returned.rejected.isEmpty, "\(returned)")

        // The enterprise and the patrol see the return; the notice stays open.
        _ = try await company.store.syncNow()
        let review = try single(company.store.response(responseId: draft.id).reviews)
        XCTAssertEqual(review.decision, .`return`(reasons: ["照片看不清显示内容"]))
        XCTAssertEqual(review.reviewer, "supervisor:zhao-nf")
        _ = try await officer.store.syncNow()
        XCTAssertTrue(try officer.store.notice(noticeId: notice.id).open)

        // Accepted: the notice is settled on the patrol's phone after its next sync.
        _ = try office.store.review(parentId: response.id, decision: .accept, comments: "")
        _ = try await office.store.syncNow()
        _ = try await officer.store.syncNow()
        XCTAssertFalse(try officer.store.notice(noticeId: notice.id).open)
        XCTAssertFalse(try officer.store.openNotices().contains { $0.id == notice.id })
    }
}
