package cn.zhichao.core

import cn.zhichao.core.testing.Phones
import cn.zhichao.core.testing.roadsideCheck
import kotlinx.coroutines.runBlocking
import kotlin.test.Test
import kotlin.test.assertEquals

/**
 * Two officers of one joint patrol edit the same case on two phones without signal; when both
 * sync, neither edit is lost (text fields are set by passing the whole new text; the core turns
 * it into edits that merge).
 */
class ConcurrentEditTest {
    @Test
    fun bothOfficersEditsSurviveTheMerge(): Unit = runBlocking {
        val wang = Phones.officer("officer:wang-ce", team = "team-ce")
        val li = Phones.officer("officer:li-ce", team = "team-ce")
        val case = wang.store.createRoadsideCheck(roadsideCheck("晋E54321"))
        wang.store.setFindings(case.id, "超限运输")
        wang.store.syncNow()
        li.store.syncNow()
        assertEquals("超限运输", li.store.case(case.id).findings)

        // Offline, both edit the same text at different places, and Li records the weighing.
        wang.store.setFindings(case.id, "驾驶人张某称：超限运输")
        li.store.setFindings(case.id, "超限运输，货物为煤炭")
        li.store.recordMeasurement(case.id, MeasurementInput(grossKg = 55_000u))

        wang.store.syncNow()
        li.store.syncNow()
        wang.store.syncNow()
        for (phone in listOf(wang, li)) {
            val merged = phone.store.case(case.id)
            assertEquals("驾驶人张某称：超限运输，货物为煤炭", merged.findings)
            assertEquals(55_000u, merged.measurement?.grossKg)
            assertEquals(6_000u, merged.classification?.excessKg)
        }
    }
}
