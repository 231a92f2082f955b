package cn.zhichao.core

import cn.zhichao.core.testing.Phones
import cn.zhichao.core.testing.cameraJpeg
import cn.zhichao.core.testing.patrol
import cn.zhichao.core.testing.roadsideCheck
import kotlinx.coroutines.runBlocking
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertTrue

/**
 * A rectification notice (整改通知书) from the patrol to a source unit, the enterprise's answer
 * with a photo, and the supervisor's review, each on its own phone through the real server.
 */
class NoticeFlowTest {
    @Test
    fun aNoticeIsAnsweredReturnedAndAccepted(): Unit = runBlocking {
        val officer = Phones.officer("officer:wang-nf", team = "team-nf")
        val case = officer.store.createRoadsideCheck(roadsideCheck("晋E66666", sourceUnit = Phones.UNIT))
        officer.store.addPhotoBytes(case.id, cameraJpeg(seed = 11), "超限车辆")
        val notice = officer.store.issueNotice(
            NoticeInput(
                caseId = case.id,
                unitName = "某某煤业有限公司",
                facts = "放行超限车辆出场",
                legalBasis = "公路安全保护条例 第四十一条",
                officers = patrol(),
                reviewBody = "阳城县人民政府",
                appealBody = "阳城县人民法院",
                deadlineDate = "2026-12-31",
            ),
        )
        assertTrue(notice.open)
        assertEquals(1, notice.photos.size, "the case photo's derivatives, never the original")
        assertTrue(officer.store.syncNow().rejected.isEmpty())

        // The enterprise receives the notice and answers with a photo.
        val company = Phones.enterprise()
        assertEquals(Role.ENTERPRISE, company.account.role)
        company.store.syncNow()
        val received = company.store.myNotices().single { it.id == notice.id }
        assertEquals("放行超限车辆出场", received.facts)
        assertEquals("2026-12-31", received.deadlineDate)
        // The notice's photo is the case photo's evidence copy; the original stays out of reach.
        val shown = received.photos.single()
        assertTrue(java.io.File(company.store.fetchPhoto(shown.sha256)).isFile)
        val original = officer.store.evidence(case.id).single().sha256
        assertFailsWith<ApiException.NotFound> { company.store.fetchPhoto(original) }
        assertFailsWith<ApiException.Unauthorized> {
            company.store.createRoadsideCheck(roadsideCheck("晋E66666"))
        }
        val draft = company.store.respond(notice.id, "已更换显示屏")
        company.store.addPhotoBytes(draft.id, cameraJpeg(seed = 12), "整改后的显示屏")
        val submitted = company.store.submitResponse(draft.id)
        assertNotNull(submitted.submittedAtMs)
        assertFailsWith<ApiException.Conflict> { company.store.submitResponse(draft.id) }
        val sent = company.store.syncNow()
        assertTrue(sent.rejected.isEmpty(), sent.toString())
        assertEquals(3uL, sent.photosUploaded, sent.toString())

        // The supervisor returns it with a reason.
        val office = Phones.supervisor("supervisor:zhao-nf")
        office.store.syncNow()
        val response = office.store.responses(notice.id).single()
        assertEquals("已更换显示屏", response.statement)
        assertEquals(1, response.evidence.size)
        assertFailsWith<ApiException.Unauthorized> {
            officer.store.review(response.id, ReviewDecision.Accept, "")
        }
        office.store.review(response.id, ReviewDecision.Return(listOf("照片看不清显示内容")), "请补拍")
        assertTrue(office.store.syncNow().rejected.isEmpty())

        // The enterprise and the patrol see the return; the notice stays open.
        company.store.syncNow()
        val review = company.store.response(draft.id).reviews.single()
        assertEquals(ReviewDecision.Return(listOf("照片看不清显示内容")), review.decision)
        assertEquals("supervisor:zhao-nf", review.reviewer)
        officer.store.syncNow()
        assertTrue(officer.store.notice(notice.id).open)

        // Accepted: the notice is settled on the patrol's phone after its next sync.
        office.store.review(response.id, ReviewDecision.Accept, "")
        office.store.syncNow()
        officer.store.syncNow()
        assertFalse(officer.store.notice(notice.id).open)
        assertTrue(officer.store.openNotices().none { it.id == notice.id })
    }
}
