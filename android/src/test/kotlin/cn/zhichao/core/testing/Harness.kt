package cn.zhichao.core.testing

import java.io.File
import java.nio.file.Files
import java.util.UUID
import org.junit.Assume

/**
 * What `android/jvm-tests/run.sh` hands the tests, as system properties:
 *
 * - `zhichao.server`: base URL of a real `zhichao serve` on 127.0.0.1, fresh for the run;
 * - `zhichao.adminToken`: its admin token (the server was started with it);
 * - `zhichao.cli`: the `zhichao` binary, for `zhichao admin …` (see [Admin]);
 * - `zhichao.tmp`: a directory removed when the run ends (see [freshDir]);
 * - `zhichao.photos`: the team's sample photos, only when `../shared/fixtures/photos` exists
 *   (see [photosDir]).
 *
 * One server serves the whole run: give each test its own device ids ([deviceId]) and account
 * names so tests do not see each other's documents.
 */
object Harness {
    /** The server's base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
    val serverUrl: String
        get() = required("zhichao.server").trimEnd('/')

    /** The admin token the server was started with (`ZHICHAO_ADMIN_TOKEN`). */
    val adminToken: String
        get() = required("zhichao.adminToken")

    /** The `zhichao` command line binary. */
    val cli: File
        get() = File(required("zhichao.cli"))

    /**
     * A new empty directory for one test (a phone's store, blob dir …), under the run's
     * temporary directory, which `run.sh` removes at the end even when tests fail.
     */
    fun freshDir(prefix: String = "test"): File {
        val root = File(required("zhichao.tmp"))
        return Files.createTempDirectory(root.toPath(), "$prefix-").toFile()
    }

    /**
     * A device id (the storage id a phone announces when syncing) unique to this run, e.g.
     * `phone-3f9c2a1b`.
     */
    fun deviceId(prefix: String = "phone"): String =
        "$prefix-${UUID.randomUUID().toString().take(8)}"

    /**
     * The team's sample photos (`../shared/fixtures/photos` beside the clone; never copied into
     * the repository). When they are missing the test is skipped (a `SKIP` line saying why),
     * except under CI (`CI` set), where it fails: CI must provide the shared folder.
     */
    fun photosDir(): File {
        val path = System.getProperty("zhichao.photos")
        val dir = path?.let(::File)?.takeIf { it.isDirectory }
        if (dir != null) return dir
        val why = "../shared/fixtures/photos not found" + (path?.let { " (looked in $it)" } ?: "")
        if (System.getenv("CI") != null) {
            throw AssertionError("$why: CI must provide the team's shared folder")
        }
        Assume.assumeTrue("skipped: $why", false)
        error("unreachable")
    }

    private fun required(name: String): String =
        System.getProperty(name)?.takeIf { it.isNotBlank() }
            ?: throw IllegalStateException(
                "system property $name is not set: run the JVM tests through " +
                    "android/jvm-tests/run.sh (or cargo test -p zhichao-mobile --test kotlin_jvm)",
            )
}
