package cn.zhichao.core

import cn.zhichao.core.testing.Admin
import cn.zhichao.core.testing.Harness
import cn.zhichao.core.testing.Role
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertNotEquals
import kotlin.test.assertTrue

/** The harness itself: the run's server answers and hands out enrollment codes. */
class HarnessTest {
    @Test
    fun serverIsReachable() {
        val client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
        val request = HttpRequest.newBuilder(URI.create("${Harness.serverUrl}/healthz"))
            .timeout(Duration.ofSeconds(10))
            .build()
        val response = client.send(request, HttpResponse.BodyHandlers.ofString())
        assertEquals(200, response.statusCode(), response.body())
    }

    @Test
    fun enrollmentCodesCanBeObtainedForADevice() {
        val device = Harness.deviceId()
        val officer = Admin.enrollmentCode(device, "officer:wang", Role.Officer("team-1"))
        val enterprise =
            Admin.enrollmentCode(Harness.deviceId(), "unit:914403001922038216", Role.Enterprise())
        assertTrue(officer.length >= 8, "code too short: $officer")
        assertNotEquals(officer, enterprise)
    }
}
