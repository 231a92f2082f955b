package cn.zhichao.core

import cn.zhichao.core.testing.Harness
import cn.zhichao.core.testing.Phones
import cn.zhichao.core.testing.roadsideCheck
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.takeWhile
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/** Sync as the app drives it: observed, in the background, and without a network. */
class SyncBehaviourTest {
    @Test
    fun syncEventsAreObservedAsAFlow(): Unit = runBlocking {
        val phone = Phones.officer("officer:wang-sb", team = "team-sb")
        phone.store.createRoadsideCheck(roadsideCheck("晋E70001"))
        val events = async(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
            phone.store.syncEvents().takeWhile { it !is SyncEvent.Done && it !is SyncEvent.Failed }.toList()
        }
        val result = phone.store.syncNow()
        val seen = withTimeout(10_000) { events.await() }
        assertTrue(seen.contains(SyncEvent.Connecting), seen.toString())
        assertTrue(seen.contains(SyncEvent.StateChanged(SyncState.SYNCING)), seen.toString())
        assertTrue(seen.any { it is SyncEvent.Progress && it.pushed == 1uL }, seen.toString())
        assertEquals(1uL, result.pushed)
        assertEquals(SyncState.STOPPED, phone.store.syncState())
    }

    @Test
    fun severalCollectorsEachSeeEveryEventAndStoppingAfterCloseIsSafe(): Unit = runBlocking {
        val phone = Phones.officer("officer:he-sb", team = "team-sb7")
        phone.store.createRoadsideCheck(roadsideCheck("晋E70008"))
        val untilDone = { flow: kotlinx.coroutines.flow.Flow<SyncEvent> ->
            async(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
                flow.takeWhile { it !is SyncEvent.Done }.toList()
            }
        }
        // Screen A collects, screen B starts collecting, screen A is cancelled.
        val screenA = async(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
            phone.store.syncEvents().toList()
        }
        val screenB = untilDone(phone.store.syncEvents())
        screenA.cancel()
        phone.store.syncNow()
        val seenByB = withTimeout(10_000) { screenB.await() }
        assertTrue(seenByB.contains(SyncEvent.Connecting), seenByB.toString())

        // A collection still running when the store is closed ends without an error.
        val late = async(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
            phone.store.syncEvents().toList()
        }
        phone.store.close()
        late.cancel()
        late.join()
    }

    @Test
    fun theBackgroundSyncSendsNewWorkSoon(): Unit = runBlocking {
        val phone = Phones.officer("officer:li-sb", team = "team-sb2")
        val states = CopyOnWriteArrayList<SyncState>()
        phone.store.setSyncObserver(object : SyncObserver {
            override fun onEvent(event: SyncEvent) {
                if (event is SyncEvent.StateChanged) states.add(event.state)
            }
        })
        phone.store.startSync(300u)
        // Nudged by the local change, not after the five-minute interval.
        phone.store.createRoadsideCheck(roadsideCheck("晋E70002"))
        withTimeout(20_000) {
            while (phone.store.pendingDocuments() != 0u) delay(50)
        }
        phone.store.stopSync()
        assertEquals(SyncState.STOPPED, phone.store.syncState())
        assertTrue(states.contains(SyncState.SYNCING), states.toString())
        assertTrue(states.contains(SyncState.IDLE), states.toString())
    }

    @Test
    fun withoutANetworkTheWorkStaysAndTheErrorIsAValue(): Unit = runBlocking {
        val online = Phones.officer("officer:zhao-sb", team = "team-sb3")
        // The same enrolled device, pointed at a server that does not answer.
        val offline = FieldStore.open(
            Harness.freshDir("offline").path, "http://127.0.0.1:1", online.secrets,
        )
        offline.createRoadsideCheck(roadsideCheck("晋E70003"))
        val error = assertFailsWith<ApiException.Network> { offline.syncNow() }
        assertTrue(error.isTransient)
        assertTrue(error.userMessage.startsWith("网络不可用"), error.userMessage)
        assertEquals(1u, offline.pendingDocuments())
        assertEquals(SyncState.STOPPED, offline.syncState())
    }

    @Test
    fun syncNowWithTwentyPendingCases(): Unit = runBlocking {
        val phone = Phones.officer("officer:qian-sb", team = "team-sb4")
        repeat(20) { i ->
            val case = phone.store.createRoadsideCheck(roadsideCheck("晋E8%04d".format(i)))
            phone.store.recordMeasurement(case.id, MeasurementInput(grossKg = (48_000 + i * 250).toUInt()))
        }
        assertEquals(20u, phone.store.pendingDocuments())
        val started = System.nanoTime()
        val result = phone.store.syncNow()
        val ms = (System.nanoTime() - started) / 1e6
        assertEquals(20uL, result.pushed, result.toString())
        assertEquals(0u, phone.store.pendingDocuments())
        // A figure for the notes, not an assertion: JVM → JNA → Rust → loopback → server.
        println("    sync now, 20 pending cases (JVM, debug build): %.1f ms, %d B sent, %d B received"
            .format(ms, result.bytesSent.toLong(), result.bytesReceived.toLong()))
    }

    @Test
    fun aThrowingObserverOrLoggerDoesNotBreakSync(): Unit = runBlocking {
        setLogSink(object : LogSink {
            override fun log(record: LogRecord) = throw IllegalStateException("logger broken")
        }, LogLevel.TRACE)
        try {
            val phone = Phones.officer("officer:wu-sb", team = "team-sb6")
            phone.store.setSyncObserver(object : SyncObserver {
                override fun onEvent(event: SyncEvent) = throw RuntimeException("observer broken")
            })
            phone.store.createRoadsideCheck(roadsideCheck("晋E70006"))
            assertEquals(1uL, phone.store.syncNow().pushed)
            phone.store.startSync(300u)
            phone.store.createRoadsideCheck(roadsideCheck("晋E70007"))
            withTimeout(20_000) {
                while (phone.store.pendingDocuments() != 0u) delay(50)
            }
            phone.store.stopSync()
        } finally {
            clearLogSink()
        }
    }

    @Test
    fun signingOutRemovesTheSecretAndKeepsTheWork(): Unit = runBlocking {
        val phone = Phones.officer("officer:sun-sb", team = "team-sb5")
        phone.store.createRoadsideCheck(roadsideCheck("晋E70005"))
        phone.store.signOut()
        assertEquals(null, phone.secrets.secret)
        assertEquals(1u, phone.store.pendingDocuments())
        assertFailsWith<ApiException.Unauthorized> { phone.store.syncNow() }
        assertFailsWith<ApiException.Unauthorized> {
            FieldStore.open(Harness.freshDir("again").path, Harness.serverUrl, phone.secrets)
        }
    }
}
