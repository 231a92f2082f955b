package cn.zhichao.core

import kotlin.test.Test
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith

/** Smoke test of the generated bindings: calls through JNA into the host-built library. */
class NormalizePlateTest {
    @Test
    fun normalizesATypedPlateAndRefusesTheLetterI() {
        val plate = normalizePlate("晋e·１２３４５")
        assertEquals("晋E12345", plate.plate)
        assertEquals("晋E·12345", plate.printed)

        val error = assertFailsWith<ApiException.Validation> { normalizePlate("晋EI2345") }
        assertContains(error.reason, "letter I")
        assertContains(error.message, "letter I")
    }
}
