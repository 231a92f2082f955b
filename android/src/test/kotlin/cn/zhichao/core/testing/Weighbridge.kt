package cn.zhichao.core.testing

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration

/** An answer of the server: HTTP status and body text. */
data class HttpAnswer(val status: Int, val body: String)

/**
 * The weighbridge system (称重系统) of source unit [unit] (货运源头单位, a USCC), as the site's
 * software talks to the county platform: a source-unit-system access token issued by the
 * administrator (`zhichao admin issue-token --role source-unit-system --unit USCC`), then each
 * weighing record (称重记录) posted as JSON to `POST /v1/weighings`
 * (sync-server/src/routes/weighings.rs). The server writes the over-limit departures
 * (超限出场) into the county's daily watch lists, which phones receive when they sync.
 */
class Weighbridge(val unit: String) {
    /** The unit's upload token. */
    val token: String = Admin.issueToken("sus:$unit-${Harness.deviceId("wb")}", Role.SourceUnitSystem(unit))

    /**
     * Posts one record, the JSON of `WeighingRecord` (core/src/weighing.rs), and returns the
     * answer: 201 with `"status":"stored"` when it is new.
     */
    fun upload(recordJson: String): HttpAnswer {
        val request = HttpRequest.newBuilder(URI.create("${Harness.serverUrl}/v1/weighings"))
            .timeout(Duration.ofSeconds(60))
            .header("Authorization", "Bearer $token")
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(recordJson, Charsets.UTF_8))
            .build()
        val response = client.send(request, HttpResponse.BodyHandlers.ofString(Charsets.UTF_8))
        return HttpAnswer(response.statusCode(), response.body())
    }

    private companion object {
        val client: HttpClient = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(30))
            .proxy(HttpClient.Builder.NO_PROXY)
            .build()
    }
}

/**
 * A weighing record of a six-axle truck reported by axle count only (the limit is then the
 * highest for six axles, 49 000 kg, 交通运输部令2016年第62号 Art. 3), weighed at [weighedAtMs]
 * (UTC ms) and let out (放行) a minute later: over the limit, an over-limit departure.
 */
fun sixAxleDeparture(recordId: String, plate: String, grossKg: Int, weighedAtMs: Long): String =
    """{"record_id":"$recordId","lane":"1号磅","plate":"$plate","vehicle":{"axles":6},""" +
        """"gross_kg":$grossKg,"cargo":"原煤","weighed_at_ms":$weighedAtMs,""" +
        """"exit_at_ms":${weighedAtMs + 60_000},"result":"passed"}"""
