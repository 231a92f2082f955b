package cn.zhichao.core

import cn.zhichao.core.testing.Phones
import kotlinx.coroutines.runBlocking
import kotlin.test.Test
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/**
 * The offline watch list of over-limit departures (超限出场): a patrol types a plate at the
 * roadside with no signal. The server writes the lists from the weighbridges' records; until a
 * weighing reaches this test server, a freshly synced phone holds none, so the lookup is empty,
 * and a plate that is not one is refused at the boundary.
 */
class WatchListTest {
    @Test
    fun aFreshlySyncedPhoneLooksAPlateUpOffline(): Unit = runBlocking {
        val wang = Phones.officer("officer:wang-wl", team = "team-wl")
        val result = wang.store.syncNow()
        assertTrue(result.rejected.isEmpty(), result.toString())
        assertEquals(emptyList(), wang.store.watchlistLookup("晋e·12345"))

        val bad = assertFailsWith<ApiException.Validation> { wang.store.watchlistLookup("晋EI2345") }
        assertContains(bad.reason, "letter I")

        // Enterprises do not read the watch lists.
        val company = Phones.enterprise()
        assertFailsWith<ApiException.Unauthorized> { company.store.watchlistLookup("晋E12345") }
    }
}
