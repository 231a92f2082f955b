package cn.zhichao.core.testing

import cn.zhichao.core.Account
import cn.zhichao.core.Agency
import cn.zhichao.core.BodyKind
import cn.zhichao.core.FieldStore
import cn.zhichao.core.OfficerInfo
import cn.zhichao.core.RoadsideCheckInput
import cn.zhichao.core.SecretStore
import cn.zhichao.core.VehicleConfig
import cn.zhichao.core.enroll
import java.awt.Color
import java.awt.image.BufferedImage
import java.io.ByteArrayOutputStream
import java.io.File
import javax.imageio.ImageIO
import kotlin.random.Random

/** The host's secret store, in memory (the app uses the Keystore: `KeystoreSecretStore`). */
class MemorySecretStore : SecretStore {
    @Volatile
    var secret: String? = null
    var saves = 0
        private set

    override fun load(): String? = secret

    @Synchronized
    override fun save(secret: String) {
        this.secret = secret
        saves++
    }

    override fun clear() {
        secret = null
    }
}

/** An enrolled phone: its store in its own directory, its secrets and its account. */
class Phone(val store: FieldStore, val secrets: MemorySecretStore, val account: Account, val dir: File)

/**
 * Enrolls phones the way the app does: the administrator issues a one-time code for the
 * phone's device id (`zhichao admin enroll`), the phone exchanges it ([enroll]) and opens its
 * store ([FieldStore.open]).
 */
object Phones {
    /** The unit the enterprise tests speak for (a valid USCC). */
    const val UNIT = "914403001922038216"

    suspend fun enrolled(name: String, role: Role): Phone {
        val device = Harness.deviceId()
        val code = Admin.enrollmentCode(device, name, role)
        val secrets = MemorySecretStore()
        val account = enroll(Harness.serverUrl, code, device, secrets)
        val dir = Harness.freshDir("store")
        val store = FieldStore.open(dir.path, Harness.serverUrl, secrets)
        return Phone(store, secrets, account, dir)
    }

    suspend fun officer(name: String, team: String) = enrolled(name, Role.Officer(team))

    suspend fun enterprise(name: String = "unit:$UNIT") = enrolled(name, Role.Enterprise(UNIT))

    suspend fun supervisor(name: String) = enrolled(name, Role.Supervisor())
}

/** The two officers of a joint patrol (路警联合执法). */
fun patrol() = listOf(
    OfficerInfo(name = "王强", enforcementId = "14052219001", agency = Agency.TRANSPORT),
    OfficerInfo(name = "李明", enforcementId = "140522", agency = Agency.TRAFFIC_POLICE),
)

/** A six-axle articulated vehicle, two drive axles, no single-tyred axle: 49 t (62号令 Art. 3). */
fun sixAxleArticulated() = VehicleConfig(
    axles = 6u,
    kind = BodyKind.ARTICULATED,
    driveAxles = 2u,
    singleTyreAxles = 0u,
)

fun roadsideCheck(plate: String, sourceUnit: String? = null) = RoadsideCheckInput(
    plate = plate,
    configuration = sixAxleArticulated(),
    place = "S329 K12+300",
    officers = patrol(),
    sourceUnit = sourceUnit,
)

/** A JPEG a phone camera might hand over, drawn with java.awt (seeded noise, so unique). */
fun cameraJpeg(width: Int = 1280, height: Int = 960, seed: Int = 1): ByteArray {
    val image = BufferedImage(width, height, BufferedImage.TYPE_INT_RGB)
    val random = Random(seed)
    val g = image.createGraphics()
    for (i in 0 until 40) {
        g.color = Color(random.nextInt(256), random.nextInt(256), random.nextInt(256))
        g.fillRect(random.nextInt(width), random.nextInt(height), width / 4, height / 4)
    }
    g.dispose()
    val out = ByteArrayOutputStream()
    check(ImageIO.write(image, "jpg", out)) { "no JPEG writer" }
    return out.toByteArray()
}
