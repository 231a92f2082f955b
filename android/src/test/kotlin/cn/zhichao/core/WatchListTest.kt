package cn.zhichao.core

import cn.zhichao.core.testing.Phones
import cn.zhichao.core.testing.Weighbridge
import cn.zhichao.core.testing.sixAxleDeparture
import kotlinx.coroutines.runBlocking
import kotlin.test.Test
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/**
 * The offline watch list of over-limit departures (超限出场), end to end: a source unit's
 * weighbridge uploads a record of a truck that left over the limit, the server writes it into
 * the county's watch list of the day, an officer's phone receives the list when it syncs, and
 * a patrol types the plate at the roadside with no signal. A plate that is not one is refused
 * at the boundary; enterprises do not read the lists.
 */
class WatchListTest {
    @Test
    fun aDepartureUploadedByAWeighbridgeIsFoundOfflineAfterASync(): Unit = runBlocking {
        // Six axles, axle count only (limit 49 t), 52.30 t, let out: 3.30 t over.
        val bridge = Weighbridge(UNIT)
        val weighedAtMs = System.currentTimeMillis() - 5 * 60_000
        val answer = bridge.upload(sixAxleDeparture("wl-0001", PLATE, 52_300, weighedAtMs))
        assertEquals(201, answer.status, answer.body)
        assertContains(answer.body, "\"status\":\"stored\"")
        assertContains(answer.body, "\"departure\":true")

        val wang = Phones.officer("officer:wang-wl", team = "team-wl")
        val result = wang.store.syncNow()
        assertTrue(result.rejected.isEmpty(), result.toString())

        // Typed as people type it: lower case, with the printed dot.
        val hits = wang.store.watchlistLookup("晋e·W5230")
        assertEquals(1, hits.size, hits.toString())
        val hit = hits[0]
        assertEquals(PLATE, hit.plate)
        assertEquals("晋E·W5230", hit.platePrinted)
        assertEquals(UNIT, hit.unit)
        assertEquals("", hit.unitName, "the unit has no profile on this server")
        assertEquals("wl-0001", hit.recordId)
        assertEquals(weighedAtMs, hit.weighedAtMs)
        assertEquals(weighedAtMs + 60_000, hit.exitAtMs)
        assertEquals(52_300u, hit.grossKg)
        assertEquals(49_000u, hit.limitKg)
        assertEquals(3_300u, hit.excessKg)
        assertTrue(hit.configurationAssumed, "only the axle count was reported")
        assertEquals(1u, hit.yearCount)
        assertFalse(hit.revocationThresholdCrossed)
        assertEquals(emptyList(), wang.store.watchlistLookup("晋E12345"))

        val bad = assertFailsWith<ApiException.Validation> { wang.store.watchlistLookup("晋EI2345") }
        assertContains(bad.reason, "letter I")

        // Enterprises do not read the watch lists.
        val company = Phones.enterprise()
        assertFailsWith<ApiException.Unauthorized> { company.store.watchlistLookup(PLATE) }
    }

    private companion object {
        /** The weighbridge's unit (a valid USCC, used by no other test). */
        const val UNIT = "9144030071526726XG"

        /** The truck's plate (no other test uploads weighings of it). */
        const val PLATE = "晋EW5230"
    }
}
