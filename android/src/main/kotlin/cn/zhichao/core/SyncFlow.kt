package cn.zhichao.core

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.filterIsInstance
import kotlinx.coroutines.flow.map

/**
 * This store's sync events as a cold [Flow]: collecting it installs the store's [SyncObserver]
 * (a store has one observer at a time), cancelling the collection removes it. Events arrive on
 * the library's sync threads and are buffered without limit, so the collector (e.g. on
 * `Dispatchers.Main`) never slows a sync down and never misses a `Done` or `Failed`.
 *
 * ```
 * lifecycleScope.launch {
 *     store.syncEvents().collect { event -> render(event) }
 * }
 * ```
 */
fun FieldStore.syncEvents(): Flow<SyncEvent> =
    callbackFlow {
        val observer = object : SyncObserver {
            override fun onEvent(event: SyncEvent) {
                trySend(event)
            }
        }
        setSyncObserver(observer)
        awaitClose { setSyncObserver(null) }
    }.buffer(Channel.UNLIMITED)

/** Only the [SyncState] changes of [syncEvents]: for a status icon. */
fun FieldStore.syncStates(): Flow<SyncState> =
    syncEvents().filterIsInstance<SyncEvent.StateChanged>().map { it.state }
