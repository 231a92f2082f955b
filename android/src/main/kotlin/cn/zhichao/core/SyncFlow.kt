package cn.zhichao.core

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.filterIsInstance
import kotlinx.coroutines.flow.map
import java.util.WeakHashMap
import java.util.concurrent.CopyOnWriteArrayList

/**
 * One [SyncObserver] per store, installed on first use, that hands every event to all
 * current collectors of [syncEvents]: a collector that stops removes only itself, and never
 * calls into the store (which may be closed by then).
 */
private object SyncFanOut {
    class Hub : SyncObserver {
        val listeners = CopyOnWriteArrayList<(SyncEvent) -> Unit>()

        override fun onEvent(event: SyncEvent) {
            for (listener in listeners) listener(event)
        }
    }

    private val hubs = WeakHashMap<FieldStore, Hub>()

    @Synchronized
    fun hubOf(store: FieldStore): Hub =
        hubs.getOrPut(store) { Hub().also { store.setSyncObserver(it) } }
}

/**
 * This store's sync events as a cold [Flow]. Any number of collectors may run at once (a
 * screen and a status bar); each gets every event from when it starts collecting. Events
 * arrive on the library's events thread and are buffered without limit, so a slow collector
 * (e.g. on `Dispatchers.Main`) never slows a sync and never misses a `Done` or `Failed`.
 * Cancelling a collection is safe at any time, also after [FieldStore.close].
 *
 * The flows share the store's one observer slot: do not also call [FieldStore.setSyncObserver]
 * on a store whose events you collect this way.
 *
 * ```
 * lifecycleScope.launch {
 *     store.syncEvents().collect { event -> render(event) }
 * }
 * ```
 */
fun FieldStore.syncEvents(): Flow<SyncEvent> {
    val store = this
    return callbackFlow {
        val hub = SyncFanOut.hubOf(store)
        val listener: (SyncEvent) -> Unit = { event -> trySend(event) }
        hub.listeners.add(listener)
        awaitClose { hub.listeners.remove(listener) }
    }.buffer(Channel.UNLIMITED)
}

/** Only the [SyncState] changes of [syncEvents]: for a status icon. */
fun FieldStore.syncStates(): Flow<SyncState> =
    syncEvents().filterIsInstance<SyncEvent.StateChanged>().map { it.state }
