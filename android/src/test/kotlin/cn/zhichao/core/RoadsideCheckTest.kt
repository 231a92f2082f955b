package cn.zhichao.core

import cn.zhichao.core.testing.Harness
import cn.zhichao.core.testing.Phones
import cn.zhichao.core.testing.roadsideCheck
import kotlinx.coroutines.runBlocking
import java.io.File
import kotlin.test.Test
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * The patrol's main flow on one phone against the real server: a roadside check is recorded
 * offline, classified, photographed with a real phone photo, synced, and a teammate's phone
 * receives it.
 */
class RoadsideCheckTest {
    @Test
    fun aRoadsideCheckIsClassifiedPhotographedAndSynced(): Unit = runBlocking {
        val wang = Phones.officer("officer:wang-rc", team = "team-rc")
        assertEquals(Role.OFFICER, wang.account.role)
        assertEquals("team-rc", wang.account.team)
        assertNotNull(wang.secrets.secret, "the tokens went to the host's secret store")
        assertTrue(wang.dir.walk().none { f -> f.isFile && f.readBytes().containsText("zrt_") },
            "no refresh token in the store's files")

        val case = wang.store.createRoadsideCheck(roadsideCheck("晋e·12345"))
        assertEquals(CaseStatus.DRAFT, case.status)
        assertEquals("晋E·12345", case.platePrinted)
        assertTrue(case.caseNumber.startsWith(wang.account.devicePrefix + "-"), case.caseNumber)

        // 52.3 t on a 49 t six-axle articulated vehicle: 3.3 t over, 6.73 %, ¥2 000 (62号令 Art. 43).
        val verdict = wang.store.recordMeasurement(case.id, MeasurementInput(grossKg = 52_300u))
        assertTrue(verdict.overLimit)
        assertEquals(49_000u, verdict.limitKg)
        assertEquals(3_300u, verdict.excessKg)
        assertEquals("6.73%", verdict.rateText)
        assertEquals(2_000u, verdict.penaltyMaxYuan)
        assertEquals(verdict, wang.store.case(case.id).classification)

        // A real phone photo with EXIF GPS.
        val photo = File(Harness.photosDir(), "gps/mei_Apple_iPhone_4_gps.jpg")
        val added = wang.store.addPhotoFile(case.id, photo.path, "车辆及车牌")
        assertEquals(false, added.alreadyListed)
        assertNotNull(added.evidence.gps, "GPS from the photo's EXIF")
        assertContains(added.camera ?: "", "Apple")
        assertIs<UploadStatus.Queued>(added.evidence.upload)
        assertTrue(File(added.evidence.thumbnailPath!!).isFile)
        assertEquals(3u, wang.store.pendingPhotos(), "original, evidence copy, thumbnail")

        val result = wang.store.syncNow()
        assertTrue(result.rejected.isEmpty(), result.toString())
        assertTrue(result.pushed >= 1uL, result.toString())
        assertEquals(3uL, result.photosUploaded, result.toString())
        assertEquals(0uL, result.photosPending, result.toString())
        assertEquals(0u, wang.store.pendingDocuments())
        val listed = wang.store.evidence(case.id).single()
        assertEquals(UploadStatus.OnServer, listed.upload)
        assertTrue(listed.completeOnServer)

        // Officer Li of the same team receives the case, verdict and photo reference.
        val li = Phones.officer("officer:li-rc", team = "team-rc")
        val pulled = li.store.syncNow()
        assertTrue(pulled.pulled >= 1uL, pulled.toString())
        val received = li.store.casesByPlate("晋E12345").single()
        assertEquals(case.id, received.id)
        assertEquals(verdict, received.classification)
        assertEquals(1u, received.photoCount)
        assertNull(received.classificationError)
        // The photo itself is downloaded when Li opens it.
        val seen = li.store.evidence(case.id).single()
        assertEquals(UploadStatus.Missing, seen.upload)
        assertNull(seen.thumbnailPath)
        val thumbnail = File(li.store.fetchPhoto(seen.thumbnailSha256!!))
        assertTrue(thumbnail.isFile)
        assertEquals(File(li.store.evidence(case.id).single().thumbnailPath!!), thumbnail)
        assertFailsWith<ApiException.NotFound> { li.store.photoBytes(seen.sha256) }
    }

    @Test
    fun aSiteInspectionRecordsTheEquipmentChecklist(): Unit = runBlocking {
        val zhang = Phones.officer("officer:zhang-si", team = "team-si")
        val case = zhang.store.createSiteInspection(
            SiteInspectionInput(
                sourceUnit = Phones.UNIT,
                place = "某煤业出场口",
                officers = cn.zhichao.core.testing.patrol(),
            ),
        )
        assertEquals(CaseKind.SITE_INSPECTION, case.kind)
        assertEquals(4, case.checklist.size)
        val updated = zhang.store.setCheckItem(
            case.id, ChecklistItem.DISPLAY_SCREEN, CheckStatus.FAULTY, "显示屏不显示超限信息",
        )
        val screen = updated.checklist.single { it.item == ChecklistItem.DISPLAY_SCREEN }
        assertEquals(CheckStatus.FAULTY, screen.status)
        assertEquals("显示屏不显示超限信息", screen.note)
        assertEquals(listOf(case.id), zhang.store.casesByUnit(Phones.UNIT).map { it.id })
        assertTrue(zhang.store.syncNow().rejected.isEmpty())
    }

    private fun ByteArray.containsText(text: String): Boolean =
        String(this, Charsets.ISO_8859_1).contains(text)
}
