package cn.zhichao.core

import cn.zhichao.core.testing.Harness
import cn.zhichao.core.testing.MemorySecretStore
import cn.zhichao.core.testing.Phones
import cn.zhichao.core.testing.roadsideCheck
import kotlinx.coroutines.runBlocking
import java.io.File
import kotlin.test.Test
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertNull

/** Bad input from the app or the network is a typed error and changes nothing. */
class ErrorsTest {
    @Test
    fun enrollmentErrorsAreTyped(): Unit = runBlocking {
        val secrets = MemorySecretStore()
        assertFailsWith<ApiException.Unauthorized> {
            FieldStore.open(Harness.freshDir("none").path, Harness.serverUrl, secrets)
        }
        assertFailsWith<ApiException.Unauthorized> {
            enroll(Harness.serverUrl, "not-a-code", newDeviceId(), secrets)
        }
        assertFailsWith<ApiException.Validation> {
            enroll("https://example.invalid", "code", newDeviceId(), secrets)
        }
        assertFailsWith<ApiException.Validation> {
            enroll(Harness.serverUrl, "code", "a device id with spaces", secrets)
        }
        assertNull(secrets.secret, "nothing stored")
        val a = newDeviceId()
        assertEquals(35, a.length, a)
        assertContains(a, "zc-")
    }

    @Test
    fun badInputIsAValidationErrorWithItsReason(): Unit = runBlocking {
        val phone = Phones.officer("officer:wang-er", team = "team-er")
        val plate = assertFailsWith<ApiException.Validation> {
            phone.store.createRoadsideCheck(roadsideCheck("晋EI2345"))
        }
        assertContains(plate.reason, "letter I")
        assertContains(plate.userMessage, "输入有误")
        val alone = roadsideCheck("晋E12345").copy(officers = cn.zhichao.core.testing.patrol().take(1))
        assertContains(
            assertFailsWith<ApiException.Validation> { phone.store.createRoadsideCheck(alone) }.reason,
            "two officers",
        )
        val noFix = roadsideCheck("晋E12345").copy(gps = GeoFix(0.0, 0.0))
        assertFailsWith<ApiException.Validation> { phone.store.createRoadsideCheck(noFix) }
        assertEquals(0u, phone.store.pendingDocuments(), "nothing was created")

        val case = phone.store.createRoadsideCheck(roadsideCheck("晋E12345"))
        assertFailsWith<ApiException.Validation> {
            phone.store.recordMeasurement(case.id, MeasurementInput(grossKg = 0u))
        }
        assertNull(phone.store.case(case.id).measurement)
        // A well-formed id of a case that is not on this phone (another team's).
        val elsewhere = Phones.officer("officer:zhou-er", team = "team-er9")
            .store.createRoadsideCheck(roadsideCheck("晋E99999"))
        assertFailsWith<ApiException.NotFound> { phone.store.case(elsewhere.id) }
        assertFailsWith<ApiException.Validation> { phone.store.case("not an id") }
        assertFailsWith<ApiException.Validation> {
            phone.store.recordStage(case.id, Stage.DECIDED, "")
        }
    }

    @Test
    fun refusedPhotosStoreNothing(): Unit = runBlocking {
        val phone = Phones.officer("officer:li-er", team = "team-er2")
        val case = phone.store.createRoadsideCheck(roadsideCheck("晋E12345"))
        val photos = Harness.photosDir()
        val truncated = assertFailsWith<ApiException.Validation> {
            phone.store.addPhotoFile(
                case.id, File(photos, "corrupt/derived_recurser_Portrait_6_trunc60pct.jpg").path, "车牌",
            )
        }
        assertContains(truncated.reason, "truncated")
        assertFailsWith<ApiException.Validation> {
            phone.store.addPhotoFile(case.id, File(photos, "corrupt/synthetic_png_header_100000x100000.png").path, "")
        }
        assertFailsWith<ApiException.Validation> { phone.store.addPhotoBytes(case.id, ByteArray(0), "") }
        assertEquals(0u, phone.store.pendingPhotos())
        assertEquals(0, phone.store.evidence(case.id).size)

        // HEIC (the iPhone default) is kept as evidence but has no preview: hand JPEG instead.
        val heic = phone.store.addPhotoFile(
            case.id, File(photos, "heic/ianare_IMG_5195_iPhone11ProMax.HEIC").path, "车牌",
        )
        assertNotNull(heic.previewError)
        assertNull(heic.evidence.thumbnailSha256)
        assertEquals("heif", heic.evidence.format)
    }
}
